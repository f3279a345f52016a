/*
 * clock.h - wall and monotonic clocks in milliseconds.
 */
#ifndef SCRIBE_CLOCK_H
#define SCRIBE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t scribe_now_ms(void);
/* Milliseconds from an arbitrary start (CLOCK_MONOTONIC): for durations. */
int64_t scribe_mono_ms(void);
/* Sleeps ms milliseconds (restarting after signals). */
void scribe_sleep_ms(int64_t ms);

#endif
