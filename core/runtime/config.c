/* runtime/config.c - see runtime/config.h. */
#include "runtime/config.h"

#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"

#define DEFAULT_SECTION "DEFAULT"
/* As configparser's BasicInterpolation. */
#define MAX_INTERPOLATION_DEPTH 10

struct entry {
	char *section;
	char *key;		/* lowercased */
	char *value;		/* raw, before interpolation */
	size_t value_room;	/* bytes allocated for value */
	int line;
};

struct neo_config {
	char *name;
	char **sections;
	size_t section_count, section_room;
	struct entry *entries;
	size_t entry_count, entry_room;
};

static int fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *name, int line, const char *fmt, ...)
{
	va_list ap;
	int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", name, line)
			 : snprintf(err, errlen, "%s: ", name);

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void neo_config_free(struct neo_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->section_count; i++)
		neo_free(cfg->sections[i]);
	for (size_t i = 0; i < cfg->entry_count; i++) {
		neo_free(cfg->entries[i].key);
		neo_free(cfg->entries[i].value);
	}
	neo_free(cfg->sections);
	neo_free(cfg->entries);
	neo_free(cfg->name);
	neo_free(cfg);
}

const char *neo_config_name(const struct neo_config *cfg)
{
	return cfg->name;
}

static const char *find_section(const struct neo_config *cfg, const char *section)
{
	for (size_t i = 0; i < cfg->section_count; i++)
		if (strcmp(cfg->sections[i], section) == 0)
			return cfg->sections[i];
	return NULL;
}

bool neo_config_has_section(const struct neo_config *cfg, const char *section)
{
	return find_section(cfg, section) != NULL;
}

const char *neo_config_section(const struct neo_config *cfg, size_t index)
{
	for (size_t i = 0; i < cfg->section_count; i++) {
		if (strcmp(cfg->sections[i], "DEFAULT") == 0)
			continue;
		if (index-- == 0)
			return cfg->sections[i];
	}
	return NULL;
}

static struct entry *find_entry(const struct neo_config *cfg, const char *section,
				const char *key)
{
	for (size_t i = 0; i < cfg->entry_count; i++)
		if (strcmp(cfg->entries[i].section, section) == 0 &&
		    strcmp(cfg->entries[i].key, key) == 0)
			return &cfg->entries[i];
	return NULL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int add_section(struct neo_config *cfg, const char *name)
{
	if (neo_grow(&cfg->sections, &cfg->section_room, cfg->section_count + 1,
		     sizeof *cfg->sections))
		return -1;
	cfg->sections[cfg->section_count] = neo_strdup(name);
	if (cfg->sections[cfg->section_count] == NULL)
		return -1;
	cfg->section_count++;
	return 0;
}

static struct entry *add_entry(struct neo_config *cfg, const char *section, const char *key,
			       const char *value, int line)
{
	struct entry *e;

	if (neo_grow(&cfg->entries, &cfg->entry_room, cfg->entry_count + 1, sizeof *cfg->entries))
		return NULL;
	e = &cfg->entries[cfg->entry_count];
	e->section = (char *)section;	/* points into cfg->sections */
	e->key = neo_strdup(key);
	e->value = neo_strdup(value);
	e->value_room = strlen(value) + 1;
	e->line = line;
	if (e->key == NULL || e->value == NULL) {
		neo_free(e->key);
		neo_free(e->value);
		return NULL;
	}
	cfg->entry_count++;
	return e;
}

static int append_line(struct entry *e, const char *text)
{
	size_t old = strlen(e->value), more = strlen(text);

	if (neo_grow(&e->value, &e->value_room, old + more + 2, 1))
		return -1;
	e->value[old] = '\n';
	memcpy(e->value + old + 1, text, more + 1);
	return 0;
}

/* Parser state between lines. */
struct parser {
	struct neo_config *cfg;
	const char *section;	/* current section, NULL before the first */
	struct entry *last;	/* the value a continuation line extends */
	int line;
	char *err;
	size_t errlen;
};

static int parse_section_header(struct parser *p, char *text)
{
	char *close = strchr(text, ']');
	char *name;

	if (close == NULL || *trim(close + 1) != '\0')
		return fail(p->err, p->errlen, p->cfg->name, p->line, "malformed section header");
	*close = '\0';
	name = text + 1;
	if (*name == '\0')
		return fail(p->err, p->errlen, p->cfg->name, p->line, "empty section name");
	if (neo_config_has_section(p->cfg, name))
		return fail(p->err, p->errlen, p->cfg->name, p->line,
			    "section [%s] appears twice", name);
	if (add_section(p->cfg, name))
		return fail(p->err, p->errlen, p->cfg->name, p->line, "out of memory");
	p->section = find_section(p->cfg, name);
	p->last = NULL;
	return 0;
}

static int parse_key_value(struct parser *p, char *text)
{
	size_t split = strcspn(text, ":=");
	char *key, *value;

	if (text[split] == '\0')
		return fail(p->err, p->errlen, p->cfg->name, p->line,
			    "expected 'key = value', 'key: value' or '[section]'");
	if (p->section == NULL)
		return fail(p->err, p->errlen, p->cfg->name, p->line,
			    "'%s' comes before any [section]", trim(text));
	text[split] = '\0';
	key = trim(text);
	value = trim(text + split + 1);
	if (*key == '\0')
		return fail(p->err, p->errlen, p->cfg->name, p->line, "empty option name");
	lowercase(key);
	if (find_entry(p->cfg, p->section, key) != NULL)
		return fail(p->err, p->errlen, p->cfg->name, p->line,
			    "option '%s' appears twice in [%s]", key, p->section);
	p->last = add_entry(p->cfg, p->section, key, value, p->line);
	if (p->last == NULL)
		return fail(p->err, p->errlen, p->cfg->name, p->line, "out of memory");
	return 0;
}

static int parse_line(struct parser *p, char *raw)
{
	char *text = trim(raw);
	bool indented = raw[0] == ' ' || raw[0] == '\t';

	if (*text == '\0') {
		p->last = NULL;
		return 0;
	}
	if (*text == '#' || *text == ';')
		return 0;
	if (indented && p->last != NULL) {
		if (append_line(p->last, text))
			return fail(p->err, p->errlen, p->cfg->name, p->line, "out of memory");
		return 0;
	}
	if (*text == '[')
		return parse_section_header(p, text);
	return parse_key_value(p, text);
}

struct neo_config *neo_config_parse_string(const char *text, const char *name,
					   char *err, size_t errlen)
{
	struct neo_config *cfg = neo_calloc(1, sizeof(*cfg));
	struct parser p = { .cfg = cfg, .err = err, .errlen = errlen };
	char *copy = neo_strdup(text);
	char *cursor = copy;

	if (cfg == NULL || copy == NULL || (cfg->name = neo_strdup(name)) == NULL) {
		fail(err, errlen, name, 0, "out of memory");
		goto failed;
	}
	while (cursor != NULL) {
		char *next = strchr(cursor, '\n');

		if (next != NULL)
			*next++ = '\0';
		cursor[strcspn(cursor, "\r")] = '\0';
		p.line++;
		if (parse_line(&p, cursor))
			goto failed;
		cursor = next;
	}
	neo_free(copy);
	return cfg;
failed:
	neo_free(copy);
	neo_config_free(cfg);
	return NULL;
}

struct neo_config *neo_config_parse_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, room = 0, n;
	struct neo_config *cfg;

	if (f == NULL) {
		fail(err, errlen, path, 0, "cannot read: %m");
		return NULL;
	}
	do {
		if (neo_grow(&text, &room, len + 4096 + 1, 1)) {
			fail(err, errlen, path, 0, "out of memory");
			fclose(f);
			neo_free(text);
			return NULL;
		}
		n = fread(text + len, 1, room - len - 1, f);
		len += n;
	} while (n > 0);
	text[len] = '\0';
	if (ferror(f)) {
		fail(err, errlen, path, 0, "cannot read: %m");
		fclose(f);
		neo_free(text);
		return NULL;
	}
	fclose(f);
	cfg = neo_config_parse_string(text, path, err, errlen);
	neo_free(text);
	return cfg;
}

static const struct entry *lookup(const struct neo_config *cfg, const char *section,
				  const char *key)
{
	const struct entry *e = NULL;

	if (strcmp(section, DEFAULT_SECTION) != 0)
		e = find_entry(cfg, section, key);
	if (e == NULL)
		e = find_entry(cfg, DEFAULT_SECTION, key);
	return e;
}

/* A growing output string for interpolation. */
struct buffer {
	char *data;
	size_t len, cap;
};

static int buffer_add(struct buffer *b, const char *s, size_t n)
{
	if (neo_grow(&b->data, &b->cap, b->len + n + 1, 1))
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int interpolate(const struct neo_config *cfg, const char *section,
		       const struct entry *e, const char *value, int depth,
		       struct buffer *out, char *err, size_t errlen)
{
	if (depth > MAX_INTERPOLATION_DEPTH)
		return fail(err, errlen, cfg->name, e->line,
			    "'%s': interpolation nested too deeply (a loop?)", e->key);
	while (*value) {
		const char *pct = strchr(value, '%');
		const char *close;
		const struct entry *ref;
		char name[256];

		if (pct == NULL)
			return buffer_add(out, value, strlen(value));
		if (buffer_add(out, value, (size_t)(pct - value)))
			return -1;
		if (pct[1] == '%') {
			if (buffer_add(out, "%", 1))
				return -1;
			value = pct + 2;
			continue;
		}
		close = pct[1] == '(' ? strstr(pct, ")s") : NULL;
		if (close == NULL || (size_t)(close - pct - 2) >= sizeof(name))
			return fail(err, errlen, cfg->name, e->line,
				    "'%s': '%%' must be followed by '%%' or '(name)s'", e->key);
		memcpy(name, pct + 2, (size_t)(close - pct - 2));
		name[close - pct - 2] = '\0';
		lowercase(name);
		ref = lookup(cfg, section, name);
		if (ref == NULL)
			return fail(err, errlen, cfg->name, e->line,
				    "'%s' refers to '%s', which is not set in [%s] or [DEFAULT]",
				    e->key, name, section);
		if (interpolate(cfg, section, ref, ref->value, depth + 1, out, err, errlen))
			return -1;
		value = close + 2;
	}
	return 0;
}

int neo_config_get(const struct neo_config *cfg, const char *section, const char *key,
		   char **value, int *line, char *err, size_t errlen)
{
	const struct entry *e = lookup(cfg, section, key);
	struct buffer out = { 0 };

	if (e == NULL)
		return 0;
	if (buffer_add(&out, "", 0) ||
	    interpolate(cfg, section, e, e->value, 0, &out, err, errlen)) {
		if (out.data == NULL || err[0] == '\0')
			fail(err, errlen, cfg->name, e->line, "out of memory");
		neo_free(out.data);
		return -1;
	}
	*value = out.data;
	if (line != NULL)
		*line = e->line;
	return 1;
}

int neo_config_foreach_key(const struct neo_config *cfg, const char *section,
			   int (*visit)(void *ctx, const char *key, int line), void *ctx)
{
	for (size_t i = 0; i < cfg->entry_count; i++) {
		const struct entry *e = &cfg->entries[i];
		int r;

		if (strcmp(e->section, section) == 0)
			r = visit(ctx, e->key, e->line);
		else if (strcmp(e->section, DEFAULT_SECTION) == 0 &&
			 (strcmp(section, DEFAULT_SECTION) == 0 ||
			  find_entry(cfg, section, e->key) == NULL))
			r = visit(ctx, e->key, e->line);
		else
			continue;
		if (r)
			return r;
	}
	return 0;
}

bool neo_config_key_is_referenced(const struct neo_config *cfg, const char *key)
{
	char pattern[300];

	snprintf(pattern, sizeof(pattern), "%%(%s)s", key);
	for (size_t i = 0; i < cfg->entry_count; i++) {
		const struct entry *e = &cfg->entries[i];

		if (strcasestr(e->value, pattern) != NULL)
			return true;
	}
	return false;
}

char *neo_config_expand_path(const char *path)
{
	const char *rest, *home = NULL;
	char user[256];
	char *out;

	if (path[0] != '~')
		return neo_strdup(path);
	rest = path + 1 + strcspn(path + 1, "/");
	if (rest == path + 1) {
		home = getenv("HOME");
		if (home == NULL) {
			struct passwd *pw = getpwuid(getuid());

			home = pw ? pw->pw_dir : NULL;
		}
	} else if ((size_t)(rest - path - 1) < sizeof(user)) {
		struct passwd *pw;

		memcpy(user, path + 1, (size_t)(rest - path - 1));
		user[rest - path - 1] = '\0';
		pw = getpwnam(user);
		home = pw ? pw->pw_dir : NULL;
	}
	if (home == NULL)
		return neo_strdup(path);	/* as Python: unknown user, left alone */
	out = neo_malloc(strlen(home) + strlen(rest) + 1);
	if (out != NULL)
		sprintf(out, "%s%s", home, rest);
	return out;
}
