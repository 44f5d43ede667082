// swift-tools-version:6.0
import PackageDescription

// Dependency direction is the architecture: only TensorKit imports BLAS, only Storage
// imports HDF5, only Imaging imports libpng/libjpeg/zlib, only Distributed imports MPI.
// -Ounchecked drops bounds checks and preconditions: 5-18% less CPU than -O from 8x8 up, 3% at 4x4
// (Benchmarks/results/ounchecked-vs-o-2026-12-01.txt). So every guard memory safety depends on is
// written with `require` (TensorKit/Require.swift), a check this flag cannot remove.
let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "progan-mpi",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "progan-mpi", targets: ["progan-mpi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, each behind a shim header that turns macros into inline functions.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Hand-vectorised convolution kernels for few-channel layers (AVX2 + FMA, chosen at run time).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"], .when(configuration: .release))]),
        // Dense float32 tensors and their kernels (im2col + sgemm convolutions).
        .target(name: "TensorKit", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: optimize),
        // Reverse-mode autograd whose backward rules are themselves differentiable.
        .target(name: "Autograd", dependencies: ["TensorKit"], swiftSettings: optimize),
        // Open MPI: environment, communicator, launch checks, watchdog (nothing model-specific).
        .target(name: "Distributed", dependencies: ["CMPI"], swiftSettings: optimize),
        // HDF5 files: datasets of images per resolution, checkpoints.
        .target(name: "Storage", dependencies: ["CHDF5"], swiftSettings: optimize),
        // PNG/JPEG decode and encode, resizing, sample grids.
        .target(name: "Imaging", dependencies: ["CPNG", "CJPEG", "CZlib"], swiftSettings: optimize),
        // The paper: networks, losses, growth schedule.
        .target(name: "ProGAN", dependencies: ["Autograd", "TensorKit"], swiftSettings: optimize),
        // Sliced Wasserstein distance and MS-SSIM.
        .target(name: "Metrics", dependencies: ["TensorKit"], swiftSettings: optimize),
        // TensorBoard event files (TFRecord framing, hand-encoded Event/Summary messages).
        .target(name: "TensorBoard", swiftSettings: optimize),
        // Training loop, checkpoints, datasets, benchmark: everything put together.
        .target(name: "Training",
                dependencies: ["ProGAN", "Autograd", "TensorKit", "Distributed", "Storage", "Imaging", "Metrics",
                               "TensorBoard"],
                swiftSettings: optimize),
        .executableTarget(name: "progan-mpi",
                          dependencies: ["Training", "ProGAN", "Autograd", "TensorKit", "Distributed",
                                         "Storage", "Imaging", "Metrics",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: optimize),

        .target(name: "TestSupport", dependencies: ["TensorKit", "Autograd"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorKitTests", dependencies: ["TensorKit", "TestSupport"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "TensorKit", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Autograd", "TensorKit", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "CZlib", "TestSupport"]),
        .testTarget(name: "ProGANTests", dependencies: ["ProGAN", "Autograd", "TensorKit", "TestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "ProGAN", "Storage", "Imaging", "CZlib", "TestSupport"],
                    exclude: ["read_tensorboard.py"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "TensorKit", "TestSupport"],
                    resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v5]
)
