/* log.h - one line per event, to stderr, with a level filter. */
#ifndef VIGIL_LOG_H
#define VIGIL_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_NOTICE, LOG_LVL_WARNING, LOG_LVL_ERROR };

/* Set the lowest level that is printed (default LOG_LVL_INFO). */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "debug|info|notice|warning|error"; -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_str(enum log_level lvl);

/* Print "TIMESTAMP LEVEL message\n" to stderr if lvl passes the filter. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)

/* Log at error level and exit(1); start-up only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
