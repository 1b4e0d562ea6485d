/*
 * nats_harness.h — starts and stops real nats-server processes for the carrier's C tests: each on
 * a free loopback port with JetStream and a temporary store directory, alone or as a cluster with
 * routes between them. Nothing listens beyond 127.0.0.1; every server is stopped (SIGTERM, then
 * SIGKILL) by nats_stop / nats_stop_all, and the directories are removed.
 */
#ifndef NATS_HARNESS_H
#define NATS_HARNESS_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NATS_MAX_SERVERS 3

typedef struct nats_server {
    pid_t pid;
    int port;
    int cluster_port;
    char dir[320];
    char url[64];
    char name[16];
} nats_server;

static nats_server nats_servers[NATS_MAX_SERVERS];
static int nats_server_count;
static char nats_root[64];

/* A port nothing listens on now (the kernel's pick for port 0). */
static int nats_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); exit(2); }
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int nats_port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void nats_sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* How many times the log says "Server is ready" (the log is appended to across restarts). */
static int nats_ready_count(const char *log) {
    FILE *f = fopen(log, "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "Server is ready")) n++;
    fclose(f);
    return n;
}

/* Starts server i (its port, directory and config set by nats_setup) and waits until it says it
   is ready: its own log, not merely the port answering (another process could hold a port that
   was free a moment ago; then this server exits and the test says so). */
static void nats_start(int i) {
    nats_server *s = &nats_servers[i];
    char config[512], routes[256] = "";
    snprintf(config, sizeof config, "%s/%s.conf", nats_root, s->name);
    FILE *f = fopen(config, "w");
    if (!f) { perror(config); exit(2); }
    fprintf(f, "server_name: %s\nlisten: 127.0.0.1:%d\njetstream { store_dir: \"%s\" }\n", s->name, s->port, s->dir);
    if (nats_server_count > 1) {
        for (int j = 0; j < nats_server_count; j++) {
            char r[64];
            snprintf(r, sizeof r, "%snats-route://127.0.0.1:%d", routes[0] ? ", " : "", nats_servers[j].cluster_port);
            strncat(routes, r, sizeof routes - strlen(routes) - 1);
        }
        fprintf(f, "cluster { name: podsync_test, listen: 127.0.0.1:%d, routes: [%s] }\n", s->cluster_port, routes);
    }
    fclose(f);
    char log[400];
    snprintf(log, sizeof log, "%s/%s.log", nats_root, s->name);
    int ready_before = nats_ready_count(log);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
        execlp("nats-server", "nats-server", "-c", config, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int t = 0; t < 400; t++) {
        if (nats_ready_count(log) > ready_before && nats_port_open(s->port)) return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "nats-server %s exited at start (see %s; is nats-server installed?)\n", s->name, log);
            exit(2);
        }
        nats_sleep_ms(25);
    }
    fprintf(stderr, "nats-server %s did not listen on %d in 10 s\n", s->name, s->port);
    exit(2);
}

/* Sets up `count` servers under a new temporary directory and starts them; returns the URL list
   of all of them. */
static const char *nats_setup(int count) {
    static char urls[256];
    snprintf(nats_root, sizeof nats_root, "/tmp/podsync-nats-XXXXXX");
    if (!mkdtemp(nats_root)) { perror("mkdtemp"); exit(2); }
    nats_server_count = count;
    urls[0] = 0;
    for (int i = 0; i < count; i++) {
        nats_server *s = &nats_servers[i];
        s->port = nats_free_port();
        s->cluster_port = count > 1 ? nats_free_port() : 0;
        snprintf(s->name, sizeof s->name, "n%d", i + 1);
        snprintf(s->dir, sizeof s->dir, "%s/%s", nats_root, s->name);
        snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
        if (i) strcat(urls, ",");
        strcat(urls, s->url);
    }
    for (int i = 0; i < count; i++) nats_start(i);
    return urls;
}

/* Stops server i: SIGTERM (or SIGKILL when `kill9`), waited for. */
static void nats_stop(int i, int kill9) {
    nats_server *s = &nats_servers[i];
    if (s->pid <= 0) return;
    kill(s->pid, kill9 ? SIGKILL : SIGTERM);
    for (int t = 0; t < 200; t++) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) { s->pid = 0; return; }
        nats_sleep_ms(25);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static void nats_stop_all(void) {
    for (int i = 0; i < nats_server_count; i++) nats_stop(i, 0);
    if (nats_root[0] && !getenv("NATS_KEEP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", nats_root);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", nats_root);
        nats_root[0] = 0;
    }
}

#endif
