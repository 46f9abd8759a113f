"""Realtime through nginx: a subscription idle longer than proxy_read_timeout keeps receiving, and an item
written through one instance reaches a subscriber connected to the other (events travel on the Redis bus).

The idle test uses nginx's /short/ location, balanced like /cms/ but with proxy_read_timeout 5 s instead of
the 30 s of /cms/ (the issue's value, and the stack's default), so that it idles ~8 s instead of 35 s;
Directus pings every 30 s (WEBSOCKETS_HEARTBEAT_PERIOD), so 8 s idle on a 5 s proxy timeout is the same
race as 35 s on 30 s, made certain."""

import logging
import time

from pydirectus import DirectusClient


def _next_event(subscription, wanted, timeout):
    """The first event of type in `wanted` within `timeout` s, and every event seen on the way."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = subscription.get(timeout=max(0.1, deadline - time.monotonic()))
        if event is None:
            continue
        seen.append(event.type)
        if event.type in wanted:
            return event, seen
    return None, seen


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_idle_subscription_outlives_proxy_read_timeout(stack, admin, collection, figures):
    records = _Records()
    logger = logging.getLogger("pydirectus.deployment.realtime")
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    client = DirectusClient(hostname=stack.base + "/short", static_token=stack.token, ssl_verify=stack.ca_file,
                            logger=logger)
    try:
        with client.realtime() as rt:
            subscription = rt.subscribe(collection, query={"fields": ["id", "title"]})
            event, seen = _next_event(subscription, ("init",), 15)
            assert event is not None, "no init event: %s" % seen
            idle = stack.short_read_timeout + 3.0
            time.sleep(idle)  # silent on both sides, longer than nginx's proxy_read_timeout
            created = admin.create_item(collection, {"title": "after the idle spell"})
            event, seen = _next_event(subscription, ("create",), 20)
            assert event is not None, "nothing received after %.0f s idle behind proxy_read_timeout %gs; events %s; " \
                "log %s" % (idle, stack.short_read_timeout, seen, records.messages[-10:])
            assert [item.id for item in event.data] == [created.id]
            figures["realtime idle %.0f s behind proxy_read_timeout %gs" % (idle, stack.short_read_timeout)] = \
                "received the create; events on the way %s; reconnects logged %d" % (
                    seen, sum("reconnecting" in message for message in records.messages))
    finally:
        client.close()
        logger.removeHandler(records)


def test_a_keepalive_below_the_proxy_timeout_keeps_the_connection_itself(stack, admin, collection, figures):
    """The client's idle ping (``keepalive``, 20 s by default: below the 30 s of /cms/) set below the
    5 s of /short/: the same idle spell passes without nginx closing the socket, so nothing is lost
    to a reconnection."""
    client = DirectusClient(hostname=stack.base + "/short", static_token=stack.token, ssl_verify=stack.ca_file)
    try:
        with client.realtime(keepalive=stack.short_read_timeout / 2) as rt:
            subscription = rt.subscribe(collection, query={"fields": ["id", "title"]})
            event, seen = _next_event(subscription, ("init",), 15)
            assert event is not None, "no init event: %s" % seen
            idle = stack.short_read_timeout + 3.0
            time.sleep(idle)
            created = admin.create_item(collection, {"title": "after a kept-alive idle spell"})
            event, seen = _next_event(subscription, ("create",), 20)
            assert event is not None, "nothing received after %.0f s idle: %s" % (idle, seen)
            assert [item.id for item in event.data] == [created.id]
            assert "reconnected" not in seen and rt.stats["connections_opened"] == 1 \
                and rt.stats["disconnects"] == 0 and rt.stats["keepalive_pings"] >= 2, (seen, rt.stats)
            figures["realtime idle %.0f s behind proxy_read_timeout %gs, keepalive %gs" % (
                idle, stack.short_read_timeout, stack.short_read_timeout / 2)] = "one connection, no reconnect"
    finally:
        client.close()


def test_event_crosses_instances(stack, collection, figures):
    """Subscribed through nginx's /i2/ (instance 2 only); the item is written on instance 1's own port."""
    subscriber = DirectusClient(hostname=stack.base + "/i2", static_token=stack.token, ssl_verify=stack.ca_file)
    writer = DirectusClient(hostname=stack.instance_urls[0], static_token=stack.token)
    try:
        with subscriber.realtime() as rt:
            subscription = rt.subscribe(collection, event="create")
            event, seen = _next_event(subscription, ("init",), 15)
            assert event is not None, seen
            started = time.monotonic()
            created = writer.create_item(collection, {"title": "written on instance 1"})
            event, seen = _next_event(subscription, ("create",), 15)
            assert event is not None, "the create on instance 1 never reached instance 2's subscriber: %s" % seen
            assert [item.id for item in event.data] == [created.id]
            figures["realtime instance 1 -> instance 2 latency (s)"] = "%.3f" % (time.monotonic() - started)
            # and back: written on instance 2 directly, seen through /i2/ as well (same instance)
            other = DirectusClient(hostname=stack.instance_urls[1], static_token=stack.token)
            other.create_item(collection, {"title": "written on instance 2"})
            other.close()
            event, seen = _next_event(subscription, ("create",), 15)
            assert event is not None, seen
    finally:
        subscriber.close()
        writer.close()
