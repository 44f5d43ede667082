import CHDF5
import Foundation
@testable import Storage
import XCTest

/// A dataset compressed with a filter this HDF5 library lacks (LZF, which h5py offers) used to
/// fail with a bare "H5Dread failed"; the error now names the filter.
final class MissingFilterTests: StorageTestCase {
    /// HDF5's id for LZF (registered by h5py).
    static let lzf: H5Z_filter_t = 32000

    func testDatasetWithUnavailableFilterNamesIt() throws {
        let path = directory.path("lzf.h5")
        // Write the file with a pass-through stand-in registered as "lzf", then unregister it, so
        // that the file needs a filter this process no longer has, as a real LZF file does.
        let name = strdup("lzf")
        defer { free(name) }
        var filterClass = H5Z_class2_t(version: Int32(H5Z_CLASS_T_VERS), id: Self.lzf, encoder_present: 1,
                                       decoder_present: 1, name: UnsafePointer(name), can_apply: nil, set_local: nil,
                                       filter: { _, _, _, nbytes, _, _ in nbytes })
        XCTAssertGreaterThanOrEqual(H5Zregister(&filterClass), 0)
        try HDF5File.writeAtomically(to: path) { file in
            try file.write([UInt8](repeating: 1, count: 4), shape: [4], to: "plain")
        }
        let fileID = H5Fopen(path, chdf5_f_acc_rdwr(), chdf5_p_default())
        XCTAssertGreaterThanOrEqual(fileID, 0)
        let dims: [hsize_t] = [16, 4]
        let space = H5Screate_simple(2, dims, nil)
        let dcpl = H5Pcreate(chdf5_p_dataset_create())
        XCTAssertGreaterThanOrEqual(H5Pset_chunk(dcpl, 2, [hsize_t](arrayLiteral: 4, 4)), 0)
        XCTAssertGreaterThanOrEqual(H5Pset_filter(dcpl, Self.lzf, 0, 0, nil), 0)
        let dataset = H5Dcreate2(fileID, "data4x4", chdf5_native_uint8(), space, chdf5_p_default(), dcpl, chdf5_p_default())
        XCTAssertGreaterThanOrEqual(dataset, 0)
        let values = [UInt8](repeating: 7, count: 64)
        XCTAssertGreaterThanOrEqual(H5Dwrite(dataset, chdf5_native_uint8(), chdf5_s_all(), chdf5_s_all(),
                                             chdf5_p_default(), values), 0)
        H5Dclose(dataset); H5Pclose(dcpl); H5Sclose(space); H5Fclose(fileID)
        XCTAssertGreaterThanOrEqual(H5Zunregister(Self.lzf), 0)

        let file = try HDF5File.open(path)
        defer { try? file.close() }
        XCTAssertEqual(try file.read("plain", as: UInt8.self), [1, 1, 1, 1])
        assertHDF5Error(.library, containing: "\(path):/data4x4 is compressed with the 'lzf' filter (HDF5 filter 32000)") {
            try file.read("data4x4", as: UInt8.self)
        }
        assertHDF5Error(.library, containing: "'lzf' filter") { try file.readRows("data4x4", rows: 0..<1, as: UInt8.self) }
    }
}
