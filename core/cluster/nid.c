/*
 * cluster/nid.c - node id namespaces and their text form.
 */
#include "cluster/nid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const struct {
	enum neo_node_type type;
	int8_t namespace;	/* the id's high byte */
	char letter;
} nid_namespaces[] = {
	{ NEO_NODE_STORAGE, 0x00, 'S' },
	{ NEO_NODE_MASTER, -0x10, 'M' },
	{ NEO_NODE_CLIENT, -0x20, 'C' },
	{ NEO_NODE_ADMIN, -0x30, 'A' },
};

#define NID_NAMESPACE_COUNT (sizeof nid_namespaces / sizeof nid_namespaces[0])

int32_t neo_nid_make(enum neo_node_type type, uint32_t number)
{
	for (size_t i = 0; i < NID_NAMESPACE_COUNT; i++)
		if (nid_namespaces[i].type == type)
			return (int32_t)(((uint32_t)(uint8_t)nid_namespaces[i].namespace << 24)
					 | (number & 0xffffff));
	return 0;
}

int neo_nid_type(int32_t nid)
{
	int8_t high = (int8_t)((uint32_t)nid >> 24);

	for (size_t i = 0; i < NID_NAMESPACE_COUNT; i++)
		if (nid_namespaces[i].namespace == high)
			return (int)nid_namespaces[i].type;
	return -1;
}

uint32_t neo_nid_number(int32_t nid)
{
	return (uint32_t)nid & 0xffffff;
}

const char *neo_nid_format(int64_t nid, char *buf, size_t buflen)
{
	int type = nid >= INT32_MIN && nid <= INT32_MAX ? neo_nid_type((int32_t)nid) : -1;

	if (nid == 0 || type < 0) {
		snprintf(buf, buflen, "%lld", (long long)nid);
		return buf;
	}
	for (size_t i = 0; i < NID_NAMESPACE_COUNT; i++)
		if ((int)nid_namespaces[i].type == type)
			snprintf(buf, buflen, "%c%u", nid_namespaces[i].letter,
				 neo_nid_number((int32_t)nid));
	return buf;
}

int neo_nid_parse(const char *text, int32_t *nid)
{
	char *end;
	long long number;

	if (text == NULL || *text == '\0')
		return -1;
	errno = 0;
	if (isalpha((unsigned char)text[0])) {
		char letter = (char)toupper((unsigned char)text[0]);

		if (!isdigit((unsigned char)text[1]))
			return -1;
		number = strtoll(text + 1, &end, 10);
		if (errno || *end || number < 0 || number > 0xffffff)
			return -1;
		for (size_t i = 0; i < NID_NAMESPACE_COUNT; i++)
			if (nid_namespaces[i].letter == letter) {
				*nid = neo_nid_make(nid_namespaces[i].type, (uint32_t)number);
				return 0;
			}
		return -1;
	}
	number = strtoll(text, &end, 0);
	if (errno || *end || number < INT32_MIN || number > INT32_MAX)
		return -1;
	*nid = (int32_t)number;
	return 0;
}
