// OpenBLAS's CBLAS interface plus its thread-count controls.
#pragma once
#include <cblas.h>
