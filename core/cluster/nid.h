/*
 * cluster/nid.h - node ids: signed 32-bit, the node type in the high byte and a
 * counter in the low 24 bits (as upstream: storage 0x00, master -0x10,
 * client -0x20, admin -0x30), printed "S1", "M2", "C3", "A1".
 */
#ifndef NEO_NID_H
#define NEO_NID_H

#include <stddef.h>
#include <stdint.h>

#include "proto/enums.h"

int32_t neo_nid_make(enum neo_node_type type, uint32_t number);
/* The type a nid belongs to; -1 if its high byte is no namespace. */
int neo_nid_type(int32_t nid);
uint32_t neo_nid_number(int32_t nid);

/* "S1" into buf (upstream's uuid_str; "0" for no id); returns buf. */
const char *neo_nid_format(int64_t nid, char *buf, size_t buflen);

/* "S1", "m2", or a plain integer; returns 0 or -1. */
int neo_nid_parse(const char *text, int32_t *nid)
	__attribute__((warn_unused_result));

#endif
