/// A check that stays in every build, for the guards memory safety depends on (element counts
/// before unsafe buffer access, shapes before BLAS calls, indices into fixed tables).
///
/// Release builds use -Ounchecked (Benchmarks/results/ounchecked-vs-o-2026-12-01.txt: 5-18% less CPU
/// than -O from 8x8 up), which removes `precondition` and `preconditionFailure` and lets
/// the optimizer assume they hold; `fatalError` stays. So guards are written with `require`.
@inline(__always)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = "",
                    file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
