/* version.h - the version of vigild and vigilctl (status, metrics, HTTP Server header). */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#define VIGIL_VERSION "0.1.0"

#endif
