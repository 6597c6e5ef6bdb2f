"""ZConfig datatypes of component.xml: the <NEOStorage> section opens a
neo.client.Storage with the section's keys as keyword arguments."""

from ZODB.config import BaseConfig


class NeoStorage(BaseConfig):

    def open(self):
        from .Storage import Storage
        section = self.config
        options = {}
        for attribute in section.getSectionAttributes():
            options[attribute] = getattr(section, attribute)
        return Storage(**options)


def compress(value):
    """`compress`: a boolean, or 'zlib' / 'zlib=LEVEL'."""
    from ZConfig.datatypes import asBoolean
    try:
        return asBoolean(value)
    except ValueError:
        pass
    algorithm, _, level = value.partition('=')
    if algorithm != 'zlib' or (level and not (level.isdigit()
                                               and 1 <= int(level) <= 9)):
        raise ValueError("compress: not a boolean, 'zlib' or 'zlib=1..9': %r"
                         % value)
    return value
