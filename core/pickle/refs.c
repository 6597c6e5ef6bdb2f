/*
 * pickle/refs.c - a pickle opcode scanner that finds ZODB's persistent
 * references (pickle/refs.h; core/cluster/cluster.md section 14.2).
 *
 * The unpickler's stack is modelled with nodes: every value pushed is a
 * node, but only byte strings, text, tuples and lists keep what they hold
 * (their bytes, or their first two items), because a persistent id is
 * made of nothing else.  MARK is modelled as Python 3's unpickler does it
 * (a stack of stack heights), so that POP on an empty frame drops the
 * mark.  Opcodes that build other objects pop their arguments and push
 * an opaque node.
 */
#include "pickle/refs.h"

#include <string.h>

#include "runtime/alloc.h"

#define NONE_NODE UINT32_MAX

enum node_kind { NODE_OTHER, NODE_BYTES, NODE_TEXT, NODE_TUPLE, NODE_LIST };

struct node {
	enum node_kind kind;
	uint32_t count;			/* items of a tuple or list */
	uint32_t item[3];		/* its first items, NONE_NODE past count */
	const uint8_t *data;		/* bytes or text (UTF-8) */
	size_t size;
};

struct scanner {
	const uint8_t *p, *end;
	struct node *nodes;
	size_t node_count, node_capacity;
	uint32_t *stack;
	size_t depth, stack_capacity;
	size_t *marks;
	size_t mark_count, mark_capacity;
	uint32_t *memo;
	size_t memo_capacity;
	uint8_t **buffers;		/* decoded protocol 0 strings */
	size_t buffer_count, buffer_capacity;
	size_t data_size;
	pickle_ref_cb cb;
	void *ctx;
};

bool pickle_ref_is_strong(const struct pickle_ref *ref)
{
	return ref->kind == PICKLE_REF_OID || ref->kind == PICKLE_REF_OID_CLASS;
}

/* --- Nodes, stack, marks, memo -------------------------------------------------- */

static int new_node(struct scanner *s, enum node_kind kind, const uint8_t *data, size_t size,
		    uint32_t *index)
{
	struct node *n;

	if (s->node_count >= UINT32_MAX - 1)
		return PICKLE_REFS_EINVAL;
	if (neo_grow(&s->nodes, &s->node_capacity, s->node_count + 1, sizeof *s->nodes) < 0)
		return PICKLE_REFS_ENOMEM;
	n = &s->nodes[s->node_count];
	*n = (struct node){ kind, 0, { NONE_NODE, NONE_NODE, NONE_NODE }, data, size };
	*index = (uint32_t)s->node_count++;
	return PICKLE_REFS_OK;
}

static int push(struct scanner *s, uint32_t index)
{
	if (neo_grow(&s->stack, &s->stack_capacity, s->depth + 1, sizeof *s->stack) < 0)
		return PICKLE_REFS_ENOMEM;
	s->stack[s->depth++] = index;
	return PICKLE_REFS_OK;
}

static int push_new(struct scanner *s, enum node_kind kind, const uint8_t *data, size_t size)
{
	uint32_t index;
	int rc = new_node(s, kind, data, size, &index);

	return rc == PICKLE_REFS_OK ? push(s, index) : rc;
}

static size_t frame_base(const struct scanner *s)
{
	return s->mark_count ? s->marks[s->mark_count - 1] : 0;
}

/* Pops count values of the current frame into *top (the last one). */
static int pop(struct scanner *s, size_t count, uint32_t *top)
{
	if (s->depth - frame_base(s) < count || count == 0)
		return PICKLE_REFS_EINVAL;
	s->depth -= count;
	if (top)
		*top = s->stack[s->depth + count - 1];
	return PICKLE_REFS_OK;
}

static int mark(struct scanner *s)
{
	if (neo_grow(&s->marks, &s->mark_capacity, s->mark_count + 1, sizeof *s->marks) < 0)
		return PICKLE_REFS_ENOMEM;
	s->marks[s->mark_count++] = s->depth;
	return PICKLE_REFS_OK;
}

/* Ends the current frame: its values are s->stack[*from .. s->depth). */
static int pop_mark(struct scanner *s, size_t *from)
{
	if (s->mark_count == 0)
		return PICKLE_REFS_EINVAL;
	*from = s->marks[--s->mark_count];
	return PICKLE_REFS_OK;
}

static void add_item(struct node *container, uint32_t item)
{
	if (container->count < 3)
		container->item[container->count] = item;
	if (container->count < UINT32_MAX)
		container->count++;
}

/* A tuple or list of the values s->stack[from .. depth), which go. */
static int collect(struct scanner *s, enum node_kind kind, size_t from)
{
	uint32_t index;
	int rc = new_node(s, kind, NULL, 0, &index);

	if (rc != PICKLE_REFS_OK)
		return rc;
	for (size_t i = from; i < s->depth; i++)
		add_item(&s->nodes[index], s->stack[i]);
	s->depth = from;
	return push(s, index);
}

static int memo_put(struct scanner *s, uint64_t key)
{
	size_t old = s->memo_capacity;

	/* keys count the values memoized, so a pickle has fewer than bytes */
	if (key >= s->data_size || s->depth == frame_base(s))
		return PICKLE_REFS_EINVAL;
	if (key >= s->memo_capacity) {
		if (neo_grow(&s->memo, &s->memo_capacity, (size_t)key + 1, sizeof *s->memo) < 0)
			return PICKLE_REFS_ENOMEM;
		for (size_t i = old; i < s->memo_capacity; i++)
			s->memo[i] = NONE_NODE;
	}
	s->memo[key] = s->stack[s->depth - 1];
	return PICKLE_REFS_OK;
}

static int memo_get(struct scanner *s, uint64_t key)
{
	if (key >= s->memo_capacity || s->memo[key] == NONE_NODE)
		return PICKLE_REFS_EINVAL;
	return push(s, s->memo[key]);
}

/* --- Reading arguments ------------------------------------------------------------ */

static int take(struct scanner *s, size_t size, const uint8_t **at)
{
	if ((size_t)(s->end - s->p) < size)
		return PICKLE_REFS_EINVAL;
	*at = s->p;
	s->p += size;
	return PICKLE_REFS_OK;
}

/* A little-endian unsigned integer of size bytes. */
static int take_uint(struct scanner *s, size_t size, uint64_t *value)
{
	const uint8_t *at;
	int rc = take(s, size, &at);

	*value = 0;
	for (size_t i = 0; rc == PICKLE_REFS_OK && i < size; i++)
		*value |= (uint64_t)at[i] << (8 * i);
	return rc;
}

/* A text line (protocol 0 argument), without its newline. */
static int take_line(struct scanner *s, const uint8_t **at, size_t *size)
{
	const uint8_t *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));

	if (nl == NULL)
		return PICKLE_REFS_EINVAL;
	*at = s->p;
	*size = (size_t)(nl - s->p);
	s->p = nl + 1;
	return PICKLE_REFS_OK;
}

static int take_decimal(struct scanner *s, uint64_t *value)
{
	const uint8_t *at;
	size_t size;
	int rc = take_line(s, &at, &size);

	*value = 0;
	if (rc == PICKLE_REFS_OK && (size == 0 || size > 18))
		return PICKLE_REFS_EINVAL;
	for (size_t i = 0; rc == PICKLE_REFS_OK && i < size; i++) {
		if (at[i] < '0' || at[i] > '9')
			return PICKLE_REFS_EINVAL;
		*value = *value * 10 + (uint64_t)(at[i] - '0');
	}
	return rc;
}

/* A length-prefixed string of a length of width bytes, pushed as kind. */
static int counted(struct scanner *s, size_t width, enum node_kind kind)
{
	uint64_t size;
	const uint8_t *at;
	int rc = take_uint(s, width, &size);

	if (rc == PICKLE_REFS_OK && size > (uint64_t)(s->end - s->p))
		return PICKLE_REFS_EINVAL;
	if (rc == PICKLE_REFS_OK)
		rc = take(s, (size_t)size, &at);
	return rc == PICKLE_REFS_OK ? push_new(s, kind, at, (size_t)size) : rc;
}

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One escape of a quoted protocol 0 STRING at in[*i] (after the
 * backslash); the byte it stands for in *out. */
static int unescape_one(const uint8_t *in, size_t size, size_t *i, uint8_t *out)
{
	static const char simple[] = "\\\\''\"\"n\nr\rt\ta\ab\bf\fv\v";
	uint8_t c = in[*i];

	for (size_t k = 0; simple[k]; k += 2)
		if (c == (uint8_t)simple[k]) {
			*out = (uint8_t)simple[k + 1];
			(*i)++;
			return PICKLE_REFS_OK;
		}
	if (c == 'x' && *i + 2 < size && hex_digit(in[*i + 1]) >= 0 &&
	    hex_digit(in[*i + 2]) >= 0) {
		*out = (uint8_t)(hex_digit(in[*i + 1]) * 16 + hex_digit(in[*i + 2]));
		*i += 3;
		return PICKLE_REFS_OK;
	}
	if (c >= '0' && c <= '7') {
		unsigned value = 0;

		for (int n = 0; n < 3 && *i < size && in[*i] >= '0' && in[*i] <= '7'; n++)
			value = value * 8 + (unsigned)(in[(*i)++] - '0');
		*out = (uint8_t)value;
		return PICKLE_REFS_OK;
	}
	return PICKLE_REFS_EINVAL;
}

/* STRING: a quoted Python byte string literal on a line. */
static int quoted_string(struct scanner *s)
{
	const uint8_t *at;
	size_t size, length = 0;
	uint8_t *decoded;
	int rc = take_line(s, &at, &size);

	if (rc != PICKLE_REFS_OK)
		return rc;
	if (size < 2 || (at[0] != '\'' && at[0] != '"') || at[size - 1] != at[0])
		return PICKLE_REFS_EINVAL;
	at++;
	size -= 2;
	if (neo_grow(&s->buffers, &s->buffer_capacity, s->buffer_count + 1,
		     sizeof *s->buffers) < 0)
		return PICKLE_REFS_ENOMEM;
	decoded = neo_malloc(size + 1);
	if (decoded == NULL)
		return PICKLE_REFS_ENOMEM;
	s->buffers[s->buffer_count++] = decoded;
	for (size_t i = 0; i < size && rc == PICKLE_REFS_OK;) {
		if (at[i] != '\\') {
			decoded[length++] = at[i++];
			continue;
		}
		i++;
		if (i >= size)
			return PICKLE_REFS_EINVAL;
		rc = unescape_one(at, size, &i, &decoded[length++]);
	}
	return rc == PICKLE_REFS_OK ? push_new(s, NODE_BYTES, decoded, length) : rc;
}

/* UNICODE: raw-unicode-escape text on a line; only plain ASCII is kept as
 * text (an oid in text form is ASCII), anything else is opaque. */
static int raw_text(struct scanner *s)
{
	const uint8_t *at;
	size_t size;
	int rc = take_line(s, &at, &size);

	if (rc != PICKLE_REFS_OK)
		return rc;
	for (size_t i = 0; i < size; i++)
		if (at[i] == '\\' || at[i] >= 0x80)
			return push_new(s, NODE_OTHER, NULL, 0);
	return push_new(s, NODE_TEXT, at, size);
}

/* --- Persistent ids ------------------------------------------------------------------- */

static const struct node *item_of(const struct scanner *s, const struct node *n, uint32_t i)
{
	return i < n->count && i < 3 ? &s->nodes[n->item[i]] : NULL;
}

static bool is_string(const struct node *n)
{
	return n && (n->kind == NODE_BYTES || n->kind == NODE_TEXT);
}

static bool is_type(const struct node *n, char type)
{
	return n && n->kind == NODE_TEXT && n->size == 1 && n->data[0] == (uint8_t)type;
}

static void set_oid(struct pickle_ref *ref, const struct node *n)
{
	if (is_string(n)) {
		ref->oid = n->data;
		ref->oid_size = n->size;
	}
}

/* A [type, args] reference. */
static void classify_list(const struct scanner *s, const struct node *pid, struct pickle_ref *ref)
{
	const struct node *type = item_of(s, pid, 0), *args = item_of(s, pid, 1);
	const struct node *a0 = NULL, *a1 = NULL;

	if (args && args->kind == NODE_TUPLE) {
		a0 = item_of(s, args, 0);
		a1 = item_of(s, args, 1);
	}
	ref->kind = PICKLE_REF_OTHER_LIST;
	if (pid->count == 1 && is_string(type)) {
		ref->kind = PICKLE_REF_WEAK;	/* legacy [oid] */
		set_oid(ref, type);
	} else if (is_type(type, 'w')) {
		ref->kind = PICKLE_REF_WEAK;
		set_oid(ref, a0);
	} else if (is_type(type, 'm')) {
		ref->kind = PICKLE_REF_MULTI;
		set_oid(ref, a1);
	} else if (is_type(type, 'n')) {
		ref->kind = PICKLE_REF_MULTI_OID;
		set_oid(ref, a1);
	}
}

/* As referencesf: a string is an oid, a tuple's first item is one, a list
 * is an extended reference; any other value is not ZODB's, and skipped. */
static int persistent_id(struct scanner *s, const struct node *pid)
{
	struct pickle_ref ref = { PICKLE_REF_OID, NULL, 0 };

	if (is_string(pid)) {
		set_oid(&ref, pid);
	} else if (pid->kind == NODE_TUPLE && is_string(item_of(s, pid, 0))) {
		ref.kind = PICKLE_REF_OID_CLASS;
		set_oid(&ref, item_of(s, pid, 0));
	} else if (pid->kind == NODE_LIST) {
		classify_list(s, pid, &ref);
	} else {
		return PICKLE_REFS_OK;
	}
	return s->cb(s->ctx, &ref);
}

static int binpersid(struct scanner *s)
{
	uint32_t top;
	int rc = pop(s, 1, &top);

	if (rc == PICKLE_REFS_OK)
		rc = persistent_id(s, &s->nodes[top]);
	return rc == PICKLE_REFS_OK ? push_new(s, NODE_OTHER, NULL, 0) : rc;
}

static int persid(struct scanner *s)
{
	const uint8_t *at;
	size_t size;
	struct node line;
	int rc = take_line(s, &at, &size);

	if (rc != PICKLE_REFS_OK)
		return rc;
	line = (struct node){ NODE_TEXT, 0, { NONE_NODE, NONE_NODE, NONE_NODE }, at, size };
	rc = persistent_id(s, &line);
	return rc == PICKLE_REFS_OK ? push_new(s, NODE_OTHER, NULL, 0) : rc;
}

/* --- Opcodes ---------------------------------------------------------------------------- */

/* Pops count values and pushes an opaque result (count 0: pushes only). */
static int replace(struct scanner *s, size_t count)
{
	int rc = count ? pop(s, count, NULL) : PICKLE_REFS_OK;

	return rc == PICKLE_REFS_OK ? push_new(s, NODE_OTHER, NULL, 0) : rc;
}

/* Pops count values, pushes nothing. */
static int drop(struct scanner *s, size_t count)
{
	return pop(s, count, NULL);
}

static int skip_then_push(struct scanner *s, size_t size)
{
	const uint8_t *at;
	int rc = take(s, size, &at);

	return rc == PICKLE_REFS_OK ? replace(s, 0) : rc;
}

static int line_then_push(struct scanner *s, int lines)
{
	const uint8_t *at;
	size_t size;
	int rc = PICKLE_REFS_OK;

	for (int i = 0; i < lines && rc == PICKLE_REFS_OK; i++)
		rc = take_line(s, &at, &size);
	return rc == PICKLE_REFS_OK ? replace(s, 0) : rc;
}

/* Opcodes that end a frame (MARK ... op). */
static int frame_op(struct scanner *s, uint8_t op)
{
	size_t from;
	int rc;

	if (op == 'i') {		/* INST: module and name lines first */
		const uint8_t *at;
		size_t size;

		rc = take_line(s, &at, &size);
		if (rc == PICKLE_REFS_OK)
			rc = take_line(s, &at, &size);
		if (rc != PICKLE_REFS_OK)
			return rc;
	}
	rc = pop_mark(s, &from);
	if (rc != PICKLE_REFS_OK)
		return rc;
	switch (op) {
	case 't':
		return collect(s, NODE_TUPLE, from);
	case 'l':
		return collect(s, NODE_LIST, from);
	case 'e':			/* APPENDS */
	case 'u':			/* SETITEMS */
	case 0x90:			/* ADDITEMS */
		if (from == frame_base(s))
			return PICKLE_REFS_EINVAL;	/* no container under the mark */
		if (op == 'e' && s->nodes[s->stack[from - 1]].kind == NODE_LIST)
			for (size_t i = from; i < s->depth; i++)
				add_item(&s->nodes[s->stack[from - 1]], s->stack[i]);
		s->depth = from;
		return PICKLE_REFS_OK;
	default:			/* DICT, OBJ, INST, FROZENSET: built */
		s->depth = from;
		return replace(s, 0);
	}
}

static int append(struct scanner *s)
{
	uint32_t value, list;
	int rc = pop(s, 1, &value);

	if (rc == PICKLE_REFS_OK && s->depth == frame_base(s))
		return PICKLE_REFS_EINVAL;
	if (rc == PICKLE_REFS_OK) {
		list = s->stack[s->depth - 1];
		if (s->nodes[list].kind == NODE_LIST)
			add_item(&s->nodes[list], value);
	}
	return rc;
}

static int small_tuple(struct scanner *s, size_t count)
{
	if (s->depth - frame_base(s) < count)
		return PICKLE_REFS_EINVAL;
	return collect(s, NODE_TUPLE, s->depth - count);
}

static int stack_op(struct scanner *s, uint8_t op)
{
	uint32_t top;
	int rc;

	switch (op) {
	case '0':			/* POP: a value, or the mark of an empty frame */
		if (s->depth == frame_base(s)) {
			size_t from;

			return pop_mark(s, &from);
		}
		return drop(s, 1);
	case '2':			/* DUP */
		rc = pop(s, 1, &top);
		if (rc == PICKLE_REFS_OK)
			rc = push(s, top);
		return rc == PICKLE_REFS_OK ? push(s, top) : rc;
	case '1': {			/* POP_MARK */
		size_t from;

		rc = pop_mark(s, &from);
		if (rc == PICKLE_REFS_OK)
			s->depth = from;
		return rc;
	}
	default:
		return PICKLE_REFS_EINVAL;
	}
}

static int memo_op(struct scanner *s, uint8_t op)
{
	uint64_t key = 0;
	int rc = PICKLE_REFS_OK;

	switch (op) {
	case 'p':
	case 'g':
		rc = take_decimal(s, &key);
		break;
	case 'q':
	case 'h':
		rc = take_uint(s, 1, &key);
		break;
	case 'r':
	case 'j':
		rc = take_uint(s, 4, &key);
		break;
	case 0x94:			/* MEMOIZE: the next key */
		key = 0;
		while (key < s->memo_capacity && s->memo[key] != NONE_NODE)
			key++;
		break;
	}
	if (rc != PICKLE_REFS_OK)
		return rc;
	if (op == 'g' || op == 'h' || op == 'j')
		return memo_get(s, key);
	return memo_put(s, key);
}

static int string_op(struct scanner *s, uint8_t op)
{
	switch (op) {
	case 'T':			/* BINSTRING */
		return counted(s, 4, NODE_BYTES);
	case 'U':			/* SHORT_BINSTRING */
		return counted(s, 1, NODE_BYTES);
	case 'B':			/* BINBYTES */
		return counted(s, 4, NODE_BYTES);
	case 'C':			/* SHORT_BINBYTES */
		return counted(s, 1, NODE_BYTES);
	case 0x8e:			/* BINBYTES8 */
		return counted(s, 8, NODE_BYTES);
	case 'X':			/* BINUNICODE */
		return counted(s, 4, NODE_TEXT);
	case 0x8c:			/* SHORT_BINUNICODE */
		return counted(s, 1, NODE_TEXT);
	case 0x8d:			/* BINUNICODE8 */
		return counted(s, 8, NODE_TEXT);
	case 0x96:			/* BYTEARRAY8: not an oid */
		return counted(s, 8, NODE_OTHER);
	case 'S':
		return quoted_string(s);
	case 'V':
		return raw_text(s);
	default:
		return PICKLE_REFS_EINVAL;
	}
}

/* LONG1, LONG4: a counted little-endian integer. */
static int long_op(struct scanner *s, size_t width)
{
	uint64_t size;
	int rc = take_uint(s, width, &size);

	if (rc == PICKLE_REFS_OK && size > (uint64_t)(s->end - s->p))
		return PICKLE_REFS_EINVAL;
	return rc == PICKLE_REFS_OK ? skip_then_push(s, (size_t)size) : rc;
}

static int value_op(struct scanner *s, uint8_t op)
{
	switch (op) {
	case 'N': case 0x88: case 0x89: case ')': case ']': case '}': case 0x8f:
		if (op == ')')
			return push_new(s, NODE_TUPLE, NULL, 0);
		if (op == ']')
			return push_new(s, NODE_LIST, NULL, 0);
		return replace(s, 0);
	case 'J':
		return skip_then_push(s, 4);
	case 'K':
		return skip_then_push(s, 1);
	case 'M':
		return skip_then_push(s, 2);
	case 'G':
		return skip_then_push(s, 8);
	case 0x82:			/* EXT1 */
		return skip_then_push(s, 1);
	case 0x83:
		return skip_then_push(s, 2);
	case 0x84:
		return skip_then_push(s, 4);
	case 0x8a:
		return long_op(s, 1);
	case 0x8b:
		return long_op(s, 4);
	case 'I': case 'L': case 'F':
		return line_then_push(s, 1);
	case 'c':			/* GLOBAL */
		return line_then_push(s, 2);
	default:
		return PICKLE_REFS_EINVAL;
	}
}

/* Opcodes that combine values of the stack. */
static int build_op(struct scanner *s, uint8_t op)
{
	switch (op) {
	case 'R':			/* REDUCE */
	case 0x81:			/* NEWOBJ */
	case 0x93:			/* STACK_GLOBAL */
		return replace(s, 2);
	case 0x92:			/* NEWOBJ_EX */
		return replace(s, 3);
	case 'b':			/* BUILD */
		return drop(s, 1);
	case 's':			/* SETITEM */
		return drop(s, 2);
	case 'a':
		return append(s);
	case 0x85:
		return small_tuple(s, 1);
	case 0x86:
		return small_tuple(s, 2);
	case 0x87:
		return small_tuple(s, 3);
	case 0x97:			/* NEXT_BUFFER */
		return replace(s, 0);
	case 0x98:			/* READONLY_BUFFER: the buffer stays */
		return s->depth > frame_base(s) ? PICKLE_REFS_OK : PICKLE_REFS_EINVAL;
	default:
		return PICKLE_REFS_EINVAL;
	}
}

/* One opcode; *stop set at STOP. */
static int opcode(struct scanner *s, uint8_t op, bool *stop)
{
	const uint8_t *at;

	switch (op) {
	case '.':
		*stop = true;
		return PICKLE_REFS_OK;
	case 0x80:			/* PROTO */
		return take(s, 1, &at);
	case 0x95:			/* FRAME: framing is transparent here */
		return take(s, 8, &at);
	case '(':
		return mark(s);
	case 'Q':
		return binpersid(s);
	case 'P':
		return persid(s);
	case 't': case 'l': case 'e': case 'u': case 0x90: case 'd': case 'o': case 'i':
	case 0x91:
		return frame_op(s, op);
	case '0': case '1': case '2':
		return stack_op(s, op);
	case 'p': case 'g': case 'q': case 'h': case 'r': case 'j': case 0x94:
		return memo_op(s, op);
	case 'T': case 'U': case 'B': case 'C': case 0x8e: case 'X': case 0x8c: case 0x8d:
	case 0x96: case 'S': case 'V':
		return string_op(s, op);
	case 'R': case 0x81: case 0x93: case 0x92: case 'b': case 's': case 'a': case 0x85:
	case 0x86: case 0x87: case 0x97: case 0x98:
		return build_op(s, op);
	default:
		return value_op(s, op);
	}
}

/* One pickle, up to and including its STOP, with a stack of its own;
 * the memo is shared, as ZODB writes a record's two pickles with one
 * pickler and referencesf reads them with one unpickler. */
static int scan_one(struct scanner *s)
{
	bool stop = false;
	int rc = PICKLE_REFS_OK;

	s->depth = 0;
	s->mark_count = 0;
	while (rc == PICKLE_REFS_OK && !stop) {
		if (s->p >= s->end)
			return PICKLE_REFS_EINVAL;	/* no STOP */
		rc = opcode(s, *s->p++, &stop);
	}
	return rc;
}

int pickle_refs_scan(const uint8_t *data, size_t size, pickle_ref_cb cb, void *ctx)
{
	struct scanner s = { .p = data, .end = data + size, .data_size = size, .cb = cb,
			     .ctx = ctx };
	int rc = size ? PICKLE_REFS_OK : PICKLE_REFS_EINVAL;

	while (rc == PICKLE_REFS_OK && s.p < s.end)
		rc = scan_one(&s);
	for (size_t i = 0; i < s.buffer_count; i++)
		neo_free(s.buffers[i]);
	neo_free(s.buffers);
	neo_free(s.nodes);
	neo_free(s.stack);
	neo_free(s.marks);
	neo_free(s.memo);
	return rc;
}

struct oid_filter {
	pickle_oid_cb cb;
	void *ctx;
};

static int strong_oid(void *ctx, const struct pickle_ref *ref)
{
	struct oid_filter *f = ctx;
	uint64_t oid = 0;

	if (!pickle_ref_is_strong(ref) || ref->oid_size != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		oid = oid << 8 | ref->oid[i];
	return f->cb(f->ctx, oid);
}

int pickle_refs_oids(const uint8_t *data, size_t size, pickle_oid_cb cb, void *ctx)
{
	struct oid_filter f = { cb, ctx };

	return pickle_refs_scan(data, size, strong_oid, &f);
}
