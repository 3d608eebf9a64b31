#ifndef SCHOOLICT_CPOSTGRES_SHIM_H
#define SCHOOLICT_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif
