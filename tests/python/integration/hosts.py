"""Several hosts on one machine: each a network namespace with its own stack and address, joined by a bridge
(``10.231.N.0/24``; the bridge itself, in the test's namespace, is ``.254``). Needs root (``ip netns``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field


def available() -> bool:
    """Whether this process can make network namespaces (root and the ``ip`` tool)."""
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@dataclass
class Host:
    name: str  # the namespace
    address: str
    link: str  # its end of the veth pair, inside the namespace

    @property
    def wrapper(self) -> list[str]:
        """The command prefix that runs a program on this host."""
        return ["ip", "netns", "exec", self.name]

    def run(self, *command: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.wrapper, *command], capture_output=True, text=True, timeout=timeout)

    def cut(self) -> None:
        """Take this host's network link down (as a pulled cable)."""
        _ip("-n", self.name, "link", "set", self.link, "down")

    def mend(self) -> None:
        _ip("-n", self.name, "link", "set", self.link, "up")


@dataclass
class Hosts:
    """Namespaces ``PREFIX-NAME`` on a bridge ``PREFIX``; :meth:`close` removes them all."""

    prefix: str = "odpg"
    subnet: int = 231
    hosts: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.close()  # what a killed earlier run may have left
        _ip("link", "add", self.prefix, "type", "bridge")
        _ip("addr", "add", f"10.{self.subnet}.0.254/24", "dev", self.prefix)
        _ip("link", "set", self.prefix, "up")

    def add(self, name: str) -> Host:
        index = len(self.hosts) + 1
        ns, outer = f"{self.prefix}-{name}", f"{self.prefix}v{index}"
        _ip("netns", "add", ns)
        _ip("link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("link", "set", outer, "master", self.prefix, "up")
        address = f"10.{self.subnet}.0.{index}"
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        host = Host(ns, address, "eth0")
        self.hosts[name] = host
        return host

    def close(self) -> None:
        listed = _ip("netns", "list", check=False).stdout.split()
        for ns in listed:
            if ns.startswith(f"{self.prefix}-"):
                for pid in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                    subprocess.run(["kill", "-9", pid], capture_output=True)
                _ip("netns", "del", ns, check=False)
        for line in _ip("-o", "link", "show", check=False).stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            if name == self.prefix or (name.startswith(f"{self.prefix}v") and name[len(self.prefix) + 1:].isdigit()):
                _ip("link", "del", name, check=False)
        self.hosts.clear()
