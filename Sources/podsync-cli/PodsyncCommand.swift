import ArgumentParser
import CPodSync

/// `podsync`: looks inside files of PodSync frames. Every byte is read through the engine
/// (PodSyncCore): frames are validated and decoded exactly as a replica would, so a bad file gives
/// the engine's status and message and a non-zero exit, never a crash.
@main
struct Podsync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "podsync",
        abstract: "Inspect, verify, dump, diff and measure files of PodSync frames; inspect durable stores.",
        discussion: """
            A frame file holds frames back to back, as a pipe carries them (each frame's length is \
            in its header); - reads standard input. A schema file holds the canonical encoding \
            podsync_schema_encode writes. inspect also reads a durable store's checkpoints and log \
            segments (podsync_store_open's files) and its directory. Exit status: 0 on success, 1 \
            when a frame is invalid (or, for diff, when the states differ; for inspect, when a \
            durable store's file is damaged), 2 when diff cannot compare, 64 for bad arguments.
            """,
        version: "\(PODSYNC_VERSION_MAJOR).\(PODSYNC_VERSION_MINOR).\(PODSYNC_VERSION_PATCH)",
        subcommands: [Inspect.self, Verify.self, Dump.self, Diff.self, Stats.self])
}

/// Runs a subcommand's body with buffered output. Its `Failure`s and frame failures are printed as
/// `podsync COMMAND: message` on standard error and exit with `failureCode`; the body's result is
/// the exit status.
func runCommand(_ command: String, failureCode: Int32 = 1, _ body: (Output) throws -> Int32) throws {
    let out = Output()
    let status: Int32
    do {
        status = try body(out)
    } catch let failure as Failure {
        out.flush()
        printError("podsync \(command): \(failure.message)")
        throw ExitCode(failureCode)
    } catch let failure as FrameFailure {
        out.flush()
        printError("podsync \(command): \(failure.source): \(failure.text)")
        throw ExitCode(failureCode)
    }
    out.flush()
    if status != 0 { throw ExitCode(status) }
}

/// The file argument every subcommand takes.
let fileHelp = ArgumentHelp("A file of frames back to back (- for standard input).", valueName: "FILE")
