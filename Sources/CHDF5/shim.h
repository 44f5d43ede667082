// HDF5's type ids and property-list defaults are macros over run-time globals (H5T_NATIVE_FLOAT
// expands to H5OPEN H5T_NATIVE_FLOAT_g): these inline functions expose them to Swift.
#pragma once
#include <hdf5.h>

static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }

// Storage additions: the default error stack and link-creation class are macros too, and the
// standard (fixed byte order) file types keep files identical whichever machine writes them.
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_std_i64le(void) { return H5T_STD_I64LE; }
static inline unsigned chdf5_f_obj_all(void) { return H5F_OBJ_ALL; }

// The POSIX (sec2) file driver's id, to know that a file's driver handle is a pointer to its
// file descriptor.
static inline hid_t chdf5_fd_sec2(void) { return H5FD_SEC2; }

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
// An anonymous memory file (memfd_create(2)), for the writes of an abandoned file; Swift's
// Glibc module does not export memfd_create itself.
static inline int chdf5_memfd_create(const char *name) { return (int)syscall(SYS_memfd_create, name, 0); }
#endif
