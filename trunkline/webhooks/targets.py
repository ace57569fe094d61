"""Which addresses a webhook may be sent to: never private, loopback or otherwise internal ones."""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
"""Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the prefix length its
operator chose (/48 to /96), and it is never public, so it is refused whole."""


class BlockedTargetError(Exception):
    """The webhook URL resolves to an address webhooks must not reach."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo), if any."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]  # the client, whose traffic the relay delivers
    compatible = address in _IPV4_COMPATIBLE and int(address) > 1  # not `::` nor `::1`
    if compatible or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address, or None when it is.

    An IPv6 form that carries an IPv4 address is judged by that address: on a host with NAT64,
    `[64:ff9b::7f00:1]` reaches 127.0.0.1.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return "local-use NAT64"
        embedded = embedded_ipv4(address)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"IPv4-embedded {reason}" if reason else None
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "carrier-grade NAT"),
        (address.is_private, "private"),
        (not address.is_global, "reserved"),
    )
    return next((reason for blocked, reason in checks if blocked), None)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def checked_address(
    host: str, port: int, *, allow_private: bool, resolve: Resolver = system_resolver
) -> IPAddress:
    """Resolve `host` once and return the address to connect to.

    Every resolved address must be public unless `allow_private`, so a name that mixes public and
    internal records is refused as a whole.
    """
    try:
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in await resolve(host, port)]
    except OSError as exc:
        raise BlockedTargetError(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise BlockedTargetError(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason:
                raise BlockedTargetError(f"{host} resolves to {reason} address {address}")
    return addresses[0]
