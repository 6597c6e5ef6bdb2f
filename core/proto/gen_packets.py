#!/usr/bin/env python3
"""Generate packets.h and packets.c from proto/protocol.def.

    proto/gen_packets.py proto/protocol.def packets.h packets.c

Every packet gets a C struct of its arguments (none when it has no
argument), a code constant, and a decoder and an encoder written out in
plain C on top of the primitives of proto/codec.h.  Composite types ([T], {K:V},
?T, named tuples) get one struct and one codec pair each, shared by every
packet that uses them.  See proto/protocol.def for the notation.
"""

import re
import sys

PRIMITIVES = {
    # name: (C type, decoder, encoder taking the value)
    'int': ('int64_t', 'neo_decode_int', 'neo_encode_int'),
    'bool': ('bool', 'neo_decode_bool', 'neo_encode_bool'),
    'float': ('double', 'neo_decode_float', 'neo_encode_float'),
    'bin': ('struct neo_bin', 'neo_decode_bin', 'neo_encode_bin'),
    'p64': ('uint64_t', 'neo_decode_p64', 'neo_encode_p64'),
    'any': ('msgpack_object', 'neo_decode_any', 'neo_encode_any'),
}

ENUMS = {
    # protocol name: (C enum, enum type constant, mangled name)
    'CellStates': ('enum neo_cell_state', 'NEO_ENUM_CELL_STATES', 'cell_state'),
    'ClusterStates': ('enum neo_cluster_state', 'NEO_ENUM_CLUSTER_STATES', 'cluster_state'),
    'NodeStates': ('enum neo_node_state', 'NEO_ENUM_NODE_STATES', 'node_state'),
    'NodeTypes': ('enum neo_node_type', 'NEO_ENUM_NODE_TYPES', 'node_type'),
}


class DefError(Exception):
    pass


# Codes from here on are ours (protocol.def's last section): upstream
# never sees them.
OURS_FIRST_CODE = 0x70


def snake(name):
    """AskLastIDs -> ask_last_ids, AskCheckTIDRange -> ask_check_tid_range."""
    name = re.sub(r'([A-Z]+)s(?=[A-Z]|$)', lambda m: m.group(1).capitalize() + 's', name)
    name = re.sub(r'([A-Z]+)([A-Z][a-z])', r'\1_\2', name)
    name = re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', name)
    return name.lower()


class Type:
    """A parsed type: kind is prim, enum, struct, opt, list or map."""

    def __init__(self, kind, name=None, args=()):
        self.kind = kind
        self.name = name
        self.args = tuple(args)

    def mangled(self):
        if self.kind == 'prim':
            return self.name
        if self.kind == 'enum':
            return ENUMS[self.name][2]
        if self.kind == 'struct':
            return self.name
        if self.kind == 'opt':
            return 'opt_' + self.args[0].mangled()
        if self.kind == 'list':
            return 'list_' + self.args[0].mangled()
        return 'map_%s_%s' % (self.args[0].mangled(), self.args[1].mangled())

    def ctype(self):
        if self.kind == 'prim':
            return PRIMITIVES[self.name][0]
        if self.kind == 'enum':
            return ENUMS[self.name][0]
        return 'struct neo_' + self.mangled()

    def composite(self):
        return self.kind in ('struct', 'opt', 'list', 'map')


def parse_type(text, structs):
    pos = 0

    def parse():
        nonlocal pos
        if text.startswith('?', pos):
            pos += 1
            return Type('opt', args=[parse()])
        if text.startswith('[', pos):
            pos += 1
            item = parse()
            expect(']')
            return Type('list', args=[item])
        if text.startswith('{', pos):
            pos += 1
            key = parse()
            expect(':')
            value = parse()
            expect('}')
            return Type('map', args=[key, value])
        m = re.compile(r'[A-Za-z_][A-Za-z0-9_]*').match(text, pos)
        if not m:
            raise DefError('bad type %r' % text)
        pos = m.end()
        word = m.group()
        if word in PRIMITIVES:
            return Type('prim', word)
        if word in ENUMS:
            return Type('enum', word)
        if word in structs:
            return Type('struct', word)
        raise DefError('unknown type %r in %r' % (word, text))

    def expect(char):
        nonlocal pos
        if not text.startswith(char, pos):
            raise DefError('expected %r in %r' % (char, text))
        pos += 1

    result = parse()
    if pos != len(text):
        raise DefError('trailing characters in type %r' % text)
    return result


class Record:
    """A named tuple: a struct type, or the arguments of a packet."""

    def __init__(self, name, fields):
        self.name = name            # C name without the neo_ prefix
        self.fields = fields        # [(field name, Type)]


class Packet:
    def __init__(self, kind, code, name, record):
        self.kind = kind            # request, notify or answer
        self.code = code            # code on the wire
        self.name = name            # upstream's name
        self.record = record

    def constant(self):
        return 'NEO_' + snake(self.name).upper()


def parse_fields(words, structs, where):
    fields = []
    for word in words:
        if ':' not in word:
            raise DefError('%s: field %r has no type' % (where, word))
        fname, ftype = word.split(':', 1)
        fields.append((fname, parse_type(ftype, structs)))
    return fields


def parse_def(path):
    structs = {}
    packets = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            words = line.split()
            where = '%s:%d' % (path, lineno)
            if words[0] == 'struct':
                structs[words[1]] = Record(words[1], parse_fields(words[2:], structs, where))
            elif words[0] in ('request', 'notify', 'answer'):
                code = int(words[1], 16)
                if words[0] == 'answer':
                    code |= 0x8000
                name = words[2]
                record = Record(snake(name), parse_fields(words[3:], structs, where))
                packets.append(Packet(words[0], code, name, record))
            else:
                raise DefError('%s: unknown line kind %r' % (where, words[0]))
    return structs, packets


class Emitter:
    """Collects the C text for every type, each once, dependencies first."""

    def __init__(self, structs):
        self.structs = structs
        self.done = set()
        self.h_types = []
        self.c_protos = []
        self.c_bodies = []

    def need(self, t):
        if t.kind in ('prim', 'enum'):
            return
        key = t.mangled()
        if key in self.done:
            return
        self.done.add(key)
        if t.kind == 'struct':
            self.record(self.structs[t.name])
        else:
            for arg in t.args:
                self.need(arg)
            getattr(self, 'emit_' + t.kind)(t)

    def record(self, rec, what=None):
        for _, ftype in rec.fields:
            self.need(ftype)
        if rec.fields:
            members = ''.join('\t%s %s;\n' % (ft.ctype(), fn) for fn, ft in rec.fields)
            self.h_types.append('struct neo_%s {\n%s};\n' % (rec.name, members))
            ctype = 'struct neo_' + rec.name
        else:
            ctype = 'void'
        arity = len(rec.fields)
        dec = ['\tif (neo_decode_tuple(d, o, what, %d))\n\t\treturn -1;\n' % arity]
        enc = ['\tif (neo_encode_array(pk, %d))\n\t\treturn -1;\n' % arity]
        for i, (fname, ftype) in enumerate(rec.fields):
            item = '&o->via.array.ptr[%d]' % i
            field_what = 'what' if what is None else '"%s.%s"' % (what, fname)
            dec.append('\tif (%s)\n\t\treturn -1;\n'
                       % decode_call(ftype, item, field_what, '&out->' + fname))
            enc.append('\tif (%s)\n\t\treturn -1;\n' % encode_call(ftype, 'v->' + fname))
        self.add_codec(rec.name, ctype, ''.join(dec), ''.join(enc))

    def emit_opt(self, t):
        inner = t.args[0]
        self.h_types.append('struct neo_%s {\n\tbool has;\n\t%s v;\n};\n'
                            % (t.mangled(), inner.ctype()))
        dec = ('\tout->has = !neo_is_nil(o);\n'
               '\tif (!out->has) {\n'
               '\t\tmemset(&out->v, 0, sizeof(out->v));\n'
               '\t\treturn 0;\n'
               '\t}\n'
               '\treturn %s;\n' % decode_call(inner, 'o', 'what', '&out->v'))
        enc = ('\tif (!v->has)\n'
               '\t\treturn neo_encode_nil(pk);\n'
               '\treturn %s;\n' % encode_call(inner, 'v->v'))
        self.add_codec(t.mangled(), t.ctype(), dec, enc, tail=True)

    def emit_list(self, t):
        item = t.args[0]
        self.h_types.append('struct neo_%s {\n\t%s *items;\n\tuint32_t count;\n};\n'
                            % (t.mangled(), item.ctype()))
        dec = ('\tif (neo_decode_array(d, o, what, &out->count))\n'
               '\t\treturn -1;\n'
               '\tout->items = neo_decode_alloc(d, out->count, sizeof(*out->items));\n'
               '\tif (out->items == NULL)\n'
               '\t\treturn -1;\n'
               '\tfor (uint32_t i = 0; i < out->count; i++)\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\treturn 0;\n'
               % decode_call(item, '&o->via.array.ptr[i]', 'what', '&out->items[i]'))
        enc = ('\tif (neo_encode_array(pk, v->count))\n'
               '\t\treturn -1;\n'
               '\tfor (uint32_t i = 0; i < v->count; i++)\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\treturn 0;\n' % encode_call(item, 'v->items[i]'))
        self.add_codec(t.mangled(), t.ctype(), dec, enc, tail=True)

    def emit_map(self, t):
        key, value = t.args
        self.h_types.append('struct neo_%s {\n\t%s *keys;\n\t%s *values;\n\tuint32_t count;\n};\n'
                            % (t.mangled(), key.ctype(), value.ctype()))
        dec = ('\tif (neo_decode_map(d, o, what, &out->count))\n'
               '\t\treturn -1;\n'
               '\tout->keys = neo_decode_alloc(d, out->count, sizeof(*out->keys));\n'
               '\tout->values = neo_decode_alloc(d, out->count, sizeof(*out->values));\n'
               '\tif (out->keys == NULL || out->values == NULL)\n'
               '\t\treturn -1;\n'
               '\tfor (uint32_t i = 0; i < out->count; i++) {\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\t}\n'
               '\treturn 0;\n'
               % (decode_call(key, '&o->via.map.ptr[i].key', 'what', '&out->keys[i]'),
                  decode_call(value, '&o->via.map.ptr[i].val', 'what', '&out->values[i]')))
        enc = ('\tif (neo_encode_map(pk, v->count))\n'
               '\t\treturn -1;\n'
               '\tfor (uint32_t i = 0; i < v->count; i++) {\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\t\tif (%s)\n'
               '\t\t\treturn -1;\n'
               '\t}\n'
               '\treturn 0;\n'
               % (encode_call(key, 'v->keys[i]'), encode_call(value, 'v->values[i]')))
        self.add_codec(t.mangled(), t.ctype(), dec, enc, tail=True)

    def add_codec(self, name, ctype, dec_body, enc_body, tail=False):
        if not tail:
            dec_body += '\treturn 0;\n'
            enc_body += '\treturn 0;\n'
        out_decl = '%s *out' % ctype
        v_decl = 'const %s *v' % ctype
        if ctype == 'void':
            # No arguments: the parameters exist only for the table's sake.
            dec_body = '\t(void)out;\n' + dec_body
            enc_body = '\t(void)v;\n' + enc_body
        dec_sig = ('static int dec_%s(struct neo_decoder *d, const msgpack_object *o,\n'
                   '\t\tconst char *what, %s)' % (name, out_decl))
        enc_sig = 'static int enc_%s(msgpack_packer *pk, %s)' % (name, v_decl)
        self.c_protos.append(dec_sig + ';\n' + enc_sig + ';\n')
        self.c_bodies.append('%s\n{\n%s}\n\n%s\n{\n%s}\n' % (dec_sig, dec_body, enc_sig, enc_body))


def decode_call(t, obj, what, out):
    if t.kind == 'prim':
        return '%s(d, %s, %s, %s)' % (PRIMITIVES[t.name][1], obj, what, out)
    if t.kind == 'enum':
        return 'dec_%s(d, %s, %s, %s)' % (ENUMS[t.name][2], obj, what, out)
    return 'dec_%s(d, %s, %s, %s)' % (t.mangled(), obj, what, out)


def encode_call(t, value):
    if t.kind == 'prim':
        return '%s(pk, %s)' % (PRIMITIVES[t.name][2], value)
    if t.kind == 'enum':
        return 'neo_encode_enum(pk, %s, (int)%s)' % (ENUMS[t.name][1], value)
    return 'enc_%s(pk, &%s)' % (t.mangled(), value)


ENUM_CODECS = ''.join(
    'static int dec_%s(struct neo_decoder *d, const msgpack_object *o,\n'
    '\t\tconst char *what, %s *out)\n'
    '{\n'
    '\tint value;\n'
    '\n'
    '\tif (neo_decode_enum(d, o, what, %s, &value))\n'
    '\t\treturn -1;\n'
    '\t*out = (%s)value;\n'
    '\treturn 0;\n'
    '}\n\n' % (mangled, ctype, const, ctype)
    for ctype, const, mangled in ENUMS.values())

HEADER_TOP = '''/*
 * packets.h - generated by proto/gen_packets.py from proto/protocol.def; do not edit.
 *
 * The argument struct of each packet of NEO protocol 5 and its code.  Types
 * are described in proto/codec.h; decoded values point into the packet's zone.
 */
#ifndef NEO_PACKETS_H
#define NEO_PACKETS_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "proto/codec.h"
#include "proto/enums.h"

'''

SOURCE_TOP = '''/*
 * packets.c - generated by proto/gen_packets.py from proto/protocol.def; do not edit.
 */
#include <string.h>

#include "proto/codec.h"
#include "proto/packet.h"
#include "proto/packets.h"

'''


def generate(structs, packets):
    em = Emitter(structs)
    for p in packets:
        em.record(p.record, what=p.name)

    codes = ''.join('\t%s = 0x%04x,\n' % (p.constant(), p.code) for p in packets)
    header = (HEADER_TOP
              + '/* Packet codes; answers have bit 15 set. */\nenum neo_packet_code {\n'
              + codes + '};\n\n'
              + '\n'.join(em.h_types)
              + '\n#endif\n')

    table = []
    wrappers = []
    for p in sorted(packets, key=lambda p: p.code):
        rec = p.record
        wrappers.append(
            'static int decode_%s(struct neo_decoder *d, const msgpack_object *args, void *out)\n'
            '{\n\treturn dec_%s(d, args, "%s", out);\n}\n\n'
            'static int encode_%s(msgpack_packer *pk, const void *args)\n'
            '{\n\treturn enc_%s(pk, args);\n}\n'
            % (rec.name, rec.name, p.name, rec.name, rec.name))
        size = 'sizeof(struct neo_%s)' % rec.name if rec.fields else '0'
        ours = 'true' if (p.code & 0x7fff) >= OURS_FIRST_CODE else 'false'
        table.append('\t{ %s, "%s", %s, %d, decode_%s, encode_%s, %s },\n'
                     % (p.constant(), p.name, size, len(rec.fields), rec.name, rec.name,
                        ours))
    source = (SOURCE_TOP
              + ''.join(em.c_protos) + '\n'
              + ENUM_CODECS
              + '\n'.join(em.c_bodies) + '\n'
              + '\n'.join(wrappers) + '\n'
              + '/* Sorted by code: proto/packet.c looks codes up by binary search. */\n'
              + 'const struct neo_packet_type neo_packet_type_table[] = {\n'
              + ''.join(table) + '};\n\n'
              + 'const size_t neo_packet_type_table_count =\n'
              + '\tsizeof(neo_packet_type_table) / sizeof(neo_packet_type_table[0]);\n')
    return header, source


def main(argv):
    if len(argv) != 4:
        sys.stderr.write('usage: proto/gen_packets.py proto/protocol.def packets.h packets.c\n')
        return 2
    try:
        structs, packets = parse_def(argv[1])
    except (DefError, OSError, ValueError) as e:
        sys.stderr.write('proto/gen_packets.py: %s\n' % e)
        return 1
    header, source = generate(structs, packets)
    for path, text in ((argv[2], header), (argv[3], source)):
        with open(path + '.tmp', 'w') as f:
            f.write(text)
    import os
    os.replace(argv[2] + '.tmp', argv[2])
    os.replace(argv[3] + '.tmp', argv[3])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
