"""kombu's filesystem broker (the one used without Redis), with messages that appear whole.

kombu's own `_put` creates the message file and then writes it; a worker polling the same
folder can move and read it in between and crash on an empty message (`JSONDecodeError`,
"Unrecoverable error": the worker stops). Here the message is written under a name the
reader skips (`….msg.part`) and renamed into place, which is atomic on one filesystem.
settings.py selects this transport with CELERY_BROKER_TRANSPORT when REDIS_URL is unset.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written aside, then renamed to the name `_get` reads."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb", buffering=0) as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
