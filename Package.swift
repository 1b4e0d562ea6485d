// swift-tools-version: 6.2
// PodSync is dual-licensed under the MIT License or the Apache License 2.0, at your option
// (SPDX: MIT OR Apache-2.0; see LICENSE, LICENSE-MIT and LICENSE-APACHE).
import PackageDescription

// Exports of libpodsync.so are restricted to podsync_* by a linker version script.
let versionScript = "\(Context.packageDirectory)/include/podsync.map"
// The engine's hot state lives in non-copyable structs; exclusivity is statically checked there and
// the dynamic checks only cost time on the hot path (see shared PERF-NOTES).
let engineFlags: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "PodSync",
    products: [
        // The shipped C library: libpodsync.so.
        .library(name: "podsync", type: .dynamic, targets: ["PodSync"]),
        // The NATS JetStream carrier: libpodsync_nats.so (include/podsync_nats.h), which drives
        // stores through libpodsync.so's C API, so the engine itself never needs libnats.
        .library(name: "podsync_nats", type: .dynamic, targets: ["PodSyncNATS"]),
        // The Swift engine, for Swift programs that use it directly.
        .library(name: "PodSyncCore", targets: ["PodSyncCore"]),
        // The `podsync` command-line tool (installed as bin/podsync): inspect, verify, dump, diff,
        // stats of frame files.
        .executable(name: "podsync-cli", targets: ["podsync-cli"]),
    ],
    dependencies: [
        // Only the CLI uses it.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CPodSyncShims", path: "Sources/CPodSyncShims"),
        .target(name: "CPodSync", path: "Sources/CPodSync"),
        .systemLibrary(name: "CNats", path: "Sources/CNats", pkgConfig: "libnats", providers: [.apt(["libnats-dev"])]),
        .target(name: "CPodSyncNATS", dependencies: ["CPodSync"], path: "Sources/CPodSyncNATS"),
        // The carrier: Swift over libnats, calling the engine only through include/podsync.h
        // (its symbols resolve to libpodsync.so at load time: .ci/build-lib links it so).
        .target(name: "PodSyncNATS", dependencies: ["CPodSync", "CPodSyncNATS", "CNats"], path: "Sources/PodSyncNATS"),
        .target(
            name: "PodSyncCore", dependencies: ["CXXHash", "CZstd", "CPodSyncShims"],
            swiftSettings: engineFlags),
        .target(
            name: "PodSync", dependencies: ["PodSyncCore", "CPodSync", "CPodSyncShims", "CZstd"],
            swiftSettings: engineFlags,
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(versionScript)"])]),
        // The `podsync` command-line tool (Sources/podsync-cli): reads frames through the engine.
        .executableTarget(
            name: "podsync-cli",
            dependencies: ["PodSyncCore", "CPodSync", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/podsync-cli"),
        // The README's Swift quick start (examples/swift/main.swift).
        .executableTarget(name: "podsync-swift-quickstart", dependencies: ["PodSyncCore"], path: "examples/swift"),
        .testTarget(
            name: "PodSyncTests", dependencies: ["PodSync", "PodSyncCore", "CPodSync", "CXXHash", "CZstd"]),
        .testTarget(
            name: "PodSyncNATSTests", dependencies: ["PodSync", "PodSyncNATS", "CPodSync", "CPodSyncNATS"]),
    ]
)
