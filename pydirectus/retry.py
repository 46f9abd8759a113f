"""When to send a request again, and after how long: a pure policy, no sockets, no sleeping.

The rules are those of the most trusted HTTP clients (urllib3, botocore, Stripe):
- a failure before the request was sent (connection refused, DNS, connect timeout) is retried for
  every method;
- a failure after it was sent (read timeout, reset, truncated answer) only for idempotent methods:
  Directus has no idempotency keys, so a POST or PATCH that may have been processed is never sent
  again;
- 429 and 503 honour ``Retry-After`` up to ``max_retry_after``; past it the client gives up at once
  and the error says when to come back;
- 502 and 504 that are not Directus answers (a proxy's) are retried for idempotent methods;
- a POST or PATCH is retried on a status only when the server clearly did not act on it: 429
  REQUESTS_EXCEEDED from the rate limiter;
- waits grow as full-jitter exponential backoff, capped.
"""

from .errors import parse_retry_after

__all__ = ["RetryPolicy"]


def _directus_code(response):
    try:
        return response.json()["errors"][0]["extensions"]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class RetryPolicy:
    """``retries`` is how many times a request may be sent again (0: never)."""

    def __init__(self, retries=3, backoff_base=0.5, backoff_cap=10.0, max_retry_after=60.0,
                 random=None):
        if retries < 0:
            raise ValueError("retries must be 0 or more, got %r" % (retries,))
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._random = random

    def __repr__(self):
        return "RetryPolicy(retries=%d, backoff_base=%r, backoff_cap=%r, max_retry_after=%r)" % (
            self.retries, self.backoff_base, self.backoff_cap, self.max_retry_after)

    def backoff(self, retry_number):
        """Full jitter: uniform between 0 and min(cap, base * 2**n)."""
        if self._random is None:
            import random  # only on a retry: keeps random (and hashlib) out of import time
            self._random = random.random
        return self._random() * min(self.backoff_cap, self.backoff_base * (2 ** retry_number))

    def delay_after_error(self, request, error, retry_number):
        """Seconds to wait before sending ``request`` again after a TransportError, or None."""
        if retry_number >= self.retries:
            return None
        if error.may_have_been_processed and not request.idempotent:
            return None
        return self.backoff(retry_number)

    def delay_after_response(self, request, response, retry_number):
        """Seconds to wait before sending ``request`` again after ``response``, or None to keep it."""
        status = response.status
        if status < 429 or retry_number >= self.retries:
            return None
        if status in (429, 503):
            if not request.idempotent and not (status == 429 and _directus_code(response) == "REQUESTS_EXCEEDED"):
                return None
            wait = parse_retry_after(response.headers.get("Retry-After"))
            if wait is None:
                return self.backoff(retry_number)
            return wait if wait <= self.max_retry_after else None
        if status in (502, 504) and request.idempotent and _directus_code(response) is None:
            return self.backoff(retry_number)
        return None
