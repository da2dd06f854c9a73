/*
 * The software version, reported in HELLO and STATUS and by --version.
 */
#ifndef FF_VERSION_H
#define FF_VERSION_H

#define FF_VERSION	"0.1.0"

#endif
