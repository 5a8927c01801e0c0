"""What the long-running OpenDPG daemons (provider agent, coordinator) share: TOML config sections, the
chain/IPFS runtime (connect, register and stake, follow events from a checkpoint, retry through outages),
and structured JSON logs."""

from opendpg.node.config import ChainSection, NodeSection, load_toml
from opendpg.node.logs import JsonFormatter, configure_logging
from opendpg.node.runtime import (
           NodeRuntime,
           handler_with_retries,
           run_until_stopped,
           sleep_or_stop,
           supervise,
           transient,
)

__all__ = [
           "ChainSection",
           "JsonFormatter",
           "NodeRuntime",
           "NodeSection",
           "configure_logging",
           "handler_with_retries",
           "load_toml",
           "run_until_stopped",
           "sleep_or_stop",
           "supervise",
           "transient",
]
