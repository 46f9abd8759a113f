"""When to send a request again, and after how long: a pure policy, no sockets, no sleeping.

The rules are those of the most trusted HTTP clients (urllib3, botocore, Stripe):
- a failure before the request was sent (connection refused, DNS, connect timeout) is retried for
  every method;
- a failure after it was sent (reset, truncated answer) only for idempotent methods: Directus has
  no idempotency keys, so a POST or PATCH that may have been processed is never sent again;
- a read timeout (sent, no answer within ``read_timeout``) at most once, see ``RetryPolicy``;
- 429 and 503 honour ``Retry-After`` up to ``max_retry_after`` (plus half a second or more: the
  header counts whole seconds, rounded), apart from ``retries``, up to ``paced_retries`` times;
  past ``max_retry_after`` the client gives up at once and the error says when to come back;
- 502 and 504 that are not Directus answers (a proxy's) are retried for idempotent methods;
- a POST or PATCH is retried on a status only when the server clearly did not act on it: 429
  REQUESTS_EXCEEDED from the rate limiter;
- waits grow as full-jitter exponential backoff, capped;
- retries are drawn from a budget per client (``RetryBudget``), so that a struggling server is not
  sent several times its normal load.
"""

from __future__ import annotations

import itertools

from ..errors import TimeoutError, answer_error_code, parse_retry_after

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional, Tuple

    from ..errors import TransportError
    from .records import Request, Response

__all__ = ["RetryPolicy", "RetryBudget", "is_read_timeout"]


class RetryPolicy:
    """How a client sends a request again: an immutable value, shared freely between clients.

    - ``retries``: how many times a request may be sent again (0: never).
    - ``backoff_base``, ``backoff_cap``: full-jitter exponential backoff, uniform between 0 and
      ``min(backoff_cap, backoff_base * 2**n)`` seconds before retry n.
    - ``max_retry_after``: the longest ``Retry-After`` wait honoured; a longer one raises at once.
    - ``read_timeout_retries``: how many times a request whose answer did not come within the
      client's ``read_timeout`` is sent again (1). A server that stays silent for a whole read
      timeout is most often stuck or overloaded, not briefly unlucky: one more try covers a single
      lost connection (a proxy that dropped its upstream, a stale NAT entry), more would only add
      ``read_timeout`` seconds each and load on a server that cannot keep up. With the defaults a
      hung server fails a call after about 2 x 60 s, not 4 x 60 s.
    - ``budget_ratio``, ``budget_reserve``: the retry budget (``RetryBudget``). Every call adds
      ``budget_ratio`` retries to its client's budget, which holds at most ``budget_reserve``; each
      retry spends one, and a call that finds the budget empty fails at once with the error it got.
      With the defaults (0.2 and 10) a server that fails everything sees at most 1.2 x the calls +
      10 requests, while a server that fails a few requests at random gets every one retried.
      A wait the server asked for (``Retry-After`` on 429 or 503) is not drawn from the budget: the
      server is pacing the client itself. ``budget_ratio=None`` turns the budget off.
    - ``paced_retries``: how many times a request is sent again after a wait the server asked for
      (``Retry-After`` on 429 REQUESTS_EXCEEDED, or 503), counted apart from ``retries``: in a
      burst above a rate limit, a request can find the limit spent again after its wait, and the
      server is pacing the client, so it waits again (20 by default; ``retries=0`` sends nothing
      again at all). The wait is the header's seconds plus 0.5 to 1 s (see ``_past_the_second``).
    - ``random``: the source of jitter, a function returning a float in [0, 1) (for tests).
    """

    __slots__ = ("retries", "backoff_base", "backoff_cap", "max_retry_after", "read_timeout_retries",
                 "budget_ratio", "budget_reserve", "paced_retries", "_random")

    retries: int
    backoff_base: float
    backoff_cap: float
    max_retry_after: float
    read_timeout_retries: int
    budget_ratio: Optional[float]
    budget_reserve: int
    paced_retries: int
    _random: Optional[Callable[[], float]]

    def __init__(self, retries: int = 3, backoff_base: float = 0.5, backoff_cap: float = 10.0,
                 max_retry_after: float = 60.0, random: Optional[Callable[[], float]] = None, *,
                 read_timeout_retries: int = 1, budget_ratio: Optional[float] = 0.2,
                 budget_reserve: int = 10, paced_retries: int = 20) -> None:
        for name, value in (("retries", retries), ("read_timeout_retries", read_timeout_retries),
                            ("budget_reserve", budget_reserve), ("paced_retries", paced_retries)):
            if type(value) is not int or value < 0:
                raise ValueError("%s must be a whole number, 0 or more, got %r" % (name, value))
        if budget_ratio is not None and not 0 < budget_ratio <= 1:
            raise ValueError("budget_ratio must be above 0 and at most 1 (or None: no budget), got %r"
                             % (budget_ratio,))
        setter = object.__setattr__
        setter(self, "retries", retries)
        setter(self, "backoff_base", backoff_base)
        setter(self, "backoff_cap", backoff_cap)
        setter(self, "max_retry_after", max_retry_after)
        setter(self, "read_timeout_retries", read_timeout_retries)
        setter(self, "budget_ratio", budget_ratio)
        setter(self, "budget_reserve", budget_reserve)
        setter(self, "paced_retries", paced_retries)
        setter(self, "_random", random)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("RetryPolicy is immutable: make a new one")

    def __repr__(self) -> str:
        return ("RetryPolicy(retries=%d, backoff_base=%r, backoff_cap=%r, max_retry_after=%r, "
                "read_timeout_retries=%d, budget_ratio=%r, budget_reserve=%d, paced_retries=%d)" % (
                    self.retries, self.backoff_base, self.backoff_cap, self.max_retry_after,
                    self.read_timeout_retries, self.budget_ratio, self.budget_reserve, self.paced_retries))

    def new_budget(self) -> Optional[RetryBudget]:
        """The budget state of one client following this policy, or None when it has none."""
        if self.budget_ratio is None:
            return None
        return RetryBudget(self.budget_ratio, self.budget_reserve)

    def backoff(self, retry_number: int) -> float:
        """Full jitter: uniform between 0 and min(cap, base * 2**n)."""
        random: Optional[Callable[[], float]] = self._random
        if random is None:
            import random as module  # only on a retry: keeps random (and hashlib) out of import time
            random = module.random
        ceiling: float = min(self.backoff_cap, self.backoff_base * (2 ** retry_number))  # int ** int is Any
        return random() * ceiling

    def delay_after_error(self, request: Request, error: TransportError, retry_number: int,
                          read_timeouts: int = 0) -> Optional[float]:
        """Seconds to wait before sending ``request`` again after a TransportError, or None.

        ``read_timeouts`` counts the read timeouts among the attempts so far, this one included.
        """
        if retry_number >= self.retries:
            return None
        if error.may_have_been_processed and not request.idempotent:
            return None
        if read_timeouts > self.read_timeout_retries:
            return None
        return self.backoff(retry_number)

    def delay_after_response(self, request: Request, response: Response, retry_number: int,
                             paced_retries: int = 0) -> Tuple[Optional[float], bool]:
        """(seconds to wait before sending ``request`` again after ``response``, or None to keep
        it; whether the server asked for that wait with Retry-After, which neither ``retries`` nor
        the budget counts: ``paced_retries`` counts those so far)."""
        status = response.status
        if status < 429 or self.retries == 0:
            return None, False
        if status in (429, 503):
            limiter = status == 429 and answer_error_code(response.body) == "REQUESTS_EXCEEDED"
            if not request.idempotent and not limiter:
                return None, False
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is not None:
                if wait > self.max_retry_after or paced_retries >= self.paced_retries:
                    return None, False
                return wait + self._past_the_second(), True
            if retry_number >= self.retries:
                return None, False
            return self.backoff(retry_number), False
        if retry_number < self.retries and status in (502, 504) and request.idempotent \
                and answer_error_code(response.body) is None:
            return self.backoff(retry_number), False
        return None, False

    def _past_the_second(self) -> float:
        """What is added to a Retry-After wait: the header counts whole seconds, rounded (Directus
        answers 0 in the last half second of its rate limiter's window), so wait half a second
        more, and up to half a second of jitter, so that the clients it paced do not all come
        back at the same instant."""
        random: Optional[Callable[[], float]] = self._random
        if random is None:
            import random as module
            random = module.random
        return 0.5 + 0.5 * random()


def is_read_timeout(error: TransportError) -> bool:
    """Whether ``error`` is a request that was sent and got no answer within the read timeout."""
    return isinstance(error, TimeoutError) and error.may_have_been_processed


class RetryBudget:
    """The retries one client may still send (see ``RetryPolicy``): Finagle's RetryBudget and gRPC's
    retry throttling, counted in calls rather than in time.

    Thread-safe without a lock: tokens are items of a deque (``popleft`` takes one or fails, both
    atomically) and calls are numbered by ``itertools.count``; at worst the reserve is briefly
    exceeded by a token or two, never overspent.
    """

    __slots__ = ("ratio", "reserve", "_tokens", "_calls", "refused")

    def __init__(self, ratio: float, reserve: int) -> None:
        from collections import deque
        self.ratio = ratio
        self.reserve = reserve
        self._tokens = deque([None] * reserve)
        self._calls = itertools.count(1)
        self.refused = 0  # retries not sent because the budget was empty

    @property
    def balance(self) -> int:
        """How many retries the budget holds now."""
        return len(self._tokens)

    def deposit(self) -> None:
        """One call starts: add ``ratio`` of a retry (a whole token every 1/ratio calls)."""
        number = next(self._calls)
        if int(number * self.ratio) > int((number - 1) * self.ratio) and len(self._tokens) < self.reserve:
            self._tokens.append(None)

    def withdraw(self) -> bool:
        """Take one retry from the budget; False (and counted in ``refused``) when it is empty."""
        try:
            self._tokens.popleft()
        except IndexError:
            self.refused += 1
            return False
        return True

    def __repr__(self) -> str:
        return "<RetryBudget %d of %d retries, %g per call, %d refused>" % (
            self.balance, self.reserve, self.ratio, self.refused)
