// zlib, for gzip-compressed IDX files (gzopen/gzread also read plain files unchanged). Swift
// imports its functions and integer macros directly; the shim only names the header.
#pragma once
#include <zlib.h>
