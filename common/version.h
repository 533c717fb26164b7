/* version.h - the version of vigild and vigilctl (status, metrics, HTTP Server header). */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#ifdef VIGIL_VERSION_OVERRIDE
#define VIGIL_VERSION VIGIL_VERSION_OVERRIDE  /* e.g. make CFLAGS='-DVIGIL_VERSION_OVERRIDE="\"x\""' */
#else
#define VIGIL_VERSION "0.1.0"
#endif

#endif
