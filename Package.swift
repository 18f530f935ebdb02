// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "bedside",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bedside", targets: ["bedside"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        // Bedside's own certificate authority (HTTPS beyond loopback by default) and the TLS handler it feeds.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        // System libraries: one module map + shim header each (see the shim headers for why each wrapper exists).
        .systemLibrary(name: "CSpawn", path: "Sources/CSpawn"),
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CFFmpeg", path: "Sources/CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "CV4L2", path: "Sources/CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(
            name: "CTurboJPEG", path: "Sources/CTurboJPEG", pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]),

        .target(
            name: "BedsideCore",
            dependencies: [
                "CSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict),
        .target(
            name: "Capture",
            dependencies: [
                "BedsideCore", "CFFmpeg", "CV4L2",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "Recording",
            dependencies: [
                "BedsideCore", "CFFmpeg", "Capture",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "ModelBridge",
            dependencies: [
                "BedsideCore", "CSpawn", "CZeroMQ", "Capture",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "Web",
            dependencies: [
                "BedsideCore", "Capture", "CTurboJPEG", "CFFmpeg", "Recording", "ModelBridge", "Study",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            resources: [.copy("Page")],
            swiftSettings: strict),
        .target(
            name: "Study",
            dependencies: [
                "BedsideCore", "Recording",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // `bedside replay`: a recording's frames through the model(s), the answers in the live log's format.
        .target(
            name: "Replay",
            dependencies: [
                "BedsideCore", "Capture", "Recording", "ModelBridge",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // `bedside bench`: the measurements behind docs/performance.md, each against the old way in the same run.
        .target(
            name: "Bench",
            dependencies: [
                "BedsideCore", "Capture", "Recording", "ModelBridge",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The commands that are not the server: `check` and `prepare` (one model on a phantom frame), `install`,
        // `uninstall`, `bundle`.
        .target(
            name: "BedsideTools",
            dependencies: [
                "BedsideCore", "Capture", "Recording", "ModelBridge",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        // The composition root: services from a config, the service group, the status ticker, the adapters
        // between the libraries. No rules of its own.
        .target(
            name: "BedsideApp",
            dependencies: [
                "BedsideCore", "Capture", "Recording", "ModelBridge", "Web", "Study",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "bedside",
            dependencies: [
                "BedsideCore", "Capture", "Recording", "ModelBridge", "Web", "Study", "BedsideApp", "Replay", "Bench", "BedsideTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),

        // What the Swift test targets share: the reliability table's row writer (docs/reliability.md).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "BedsideCoreTests", dependencies: ["BedsideCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "BedsideCore"], swiftSettings: strict),
        .testTarget(name: "RecordingTests", dependencies: ["Recording", "Capture", "BedsideCore"], swiftSettings: strict),
        .testTarget(name: "ModelBridgeTests", dependencies: ["ModelBridge", "BedsideCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "Recording", "BedsideCore"], swiftSettings: strict),
        .testTarget(name: "StudyTests", dependencies: ["Study", "BedsideCore", "Recording"], swiftSettings: strict),
        .testTarget(name: "BedsideToolsTests", dependencies: ["BedsideTools"], swiftSettings: strict),
        .testTarget(
            name: "WebTests",
            dependencies: [
                "Web", "BedsideCore", "Study", "Recording", "ModelBridge",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
