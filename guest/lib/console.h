/* guest/lib/console.h: COM1 16550 output and a small printf. */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);

/* %s %c %d %i %u %x %X %p %%, flags '0' '-' '#', width, l/ll/z lengths. */
__attribute__((format(printf, 1, 2))) int printf(const char *fmt, ...);
int vprintf(const char *fmt, va_list ap);
__attribute__((format(printf, 3, 4)))
int snprintf(char *buf, size_t len, const char *fmt, ...);
int vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);

#endif
