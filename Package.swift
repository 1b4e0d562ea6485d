// swift-tools-version: 6.2
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
        // The Swift engine, for Swift programs that use it directly.
        .library(name: "PodSyncCore", targets: ["PodSyncCore"]),
    ],
    targets: [
        .systemLibrary(
            name: "CXXHash", path: "Sources/CXXHash", pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(
            name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .target(name: "CPodSyncShims", path: "Sources/CPodSyncShims"),
        .target(name: "CPodSync", path: "Sources/CPodSync"),
        .target(
            name: "PodSyncCore", dependencies: ["CXXHash", "CZstd", "CPodSyncShims"],
            swiftSettings: engineFlags),
        .target(
            name: "PodSync", dependencies: ["PodSyncCore", "CPodSync", "CPodSyncShims", "CZstd"],
            swiftSettings: engineFlags,
            linkerSettings: [.unsafeFlags(["-Xlinker", "--version-script=\(versionScript)"])]),
        // The README's Swift quick start (examples/swift/main.swift).
        .executableTarget(name: "podsync-swift-quickstart", dependencies: ["PodSyncCore"], path: "examples/swift"),
        .testTarget(
            name: "PodSyncTests", dependencies: ["PodSync", "PodSyncCore", "CPodSync", "CXXHash", "CZstd"]),
    ]
)
