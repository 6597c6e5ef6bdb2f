/*
 * runtime/config.h - neo.conf files, read as upstream reads them (Python's
 * configparser with its default settings):
 *
 *   - [section] headers; [DEFAULT] is inherited by every section;
 *   - "key: value" or "key = value" (the first ':' or '=' splits); keys
 *     are case-insensitive; values are trimmed;
 *   - whole-line comments starting with '#' or ';' (there are no inline
 *     comments: "a = b # c" means "b # c");
 *   - an indented line continues the previous value on a new line (this
 *     is how multi-valued options are written); a blank line ends it;
 *   - %(name)s is replaced by the value of name in the same section or in
 *     DEFAULT, %% by %, up to 10 levels deep;
 *   - a duplicate section, or a key twice in one section, is an error.
 *
 * Every error names the file and line.  A parsed file is one object,
 * freed by neo_config_free; strings returned by neo_config_get belong to
 * the caller.
 */
#ifndef NEO_CONFIG_H
#define NEO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct neo_config;

/* NULL on error, with a message "FILE:LINE: ..." in err. */
struct neo_config *neo_config_parse_file(const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* The same from memory; `name` stands for the file name in messages. */
struct neo_config *neo_config_parse_string(const char *text, const char *name,
					   char *err, size_t errlen)
	__attribute__((warn_unused_result));
void neo_config_free(struct neo_config *cfg);

const char *neo_config_name(const struct neo_config *cfg);
bool neo_config_has_section(const struct neo_config *cfg, const char *section);
/* The index-th section in the order of the file, DEFAULT left out; NULL
 * past the last (importer.conf's first section is its destination). */
const char *neo_config_section(const struct neo_config *cfg, size_t index);

/*
 * Looks key up in section, then in DEFAULT, and interpolates it.
 * Returns 1 and a malloc'ed string in *value (the caller frees it), 0 when
 * the key is absent, -1 on an interpolation error (message in err).  *line
 * (if not NULL) gets the line the key was written on.
 */
int neo_config_get(const struct neo_config *cfg, const char *section, const char *key,
		   char **value, int *line, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/*
 * Calls visit(ctx, key, line) for every key of section and of DEFAULT
 * (DEFAULT's keys that section overrides only once).  Stops and returns
 * the first non-zero value visit returns.
 */
int neo_config_foreach_key(const struct neo_config *cfg, const char *section,
			   int (*visit)(void *ctx, const char *key, int line), void *ctx);

/* True when some value, in any section, refers to key by %(key)s: such a
 * key is a variable of the file, not an option. */
bool neo_config_key_is_referenced(const struct neo_config *cfg, const char *key);

/* "~/x" and "~user/x" expanded; a malloc'ed copy otherwise.  NULL if out
 * of memory. */
char *neo_config_expand_path(const char *path)
	__attribute__((warn_unused_result));

#endif
