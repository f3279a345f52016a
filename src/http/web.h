/*
 * web.h - the web page (files of web/) compiled into the binary by the
 * scribe_web library; pass scribe_web_files to scribe_http_start().
 * The table ends with a row whose path is NULL (see core/embed.h).
 */
#ifndef SCRIBE_WEB_H
#define SCRIBE_WEB_H

#include "core/embed.h"

extern const scribe_embedded_file scribe_web_files[];

#endif
