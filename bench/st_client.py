"""A minimal Streamlit client: drives a running ``streamlit run`` over its websocket.

It speaks the protocol the browser speaks (Streamlit 1.67): binary protobuf ``BackMsg``
frames to ``/_stcore/stream`` (subprotocol ``streamlit``), ``ForwardMsg`` frames back. A run
is a ``BackMsg.rerun_script`` carrying the URL's query string, the page, the widget values
that changed (a button press is a one-run ``trigger_value``) and, for a click inside an
``st.fragment``, the fragment's id; it ends with a ``script_finished`` message.

:class:`PageState` mirrors what the browser keeps between runs: the query string (the server
changes it with ``page_info_changed``), the page's script hash, and every widget drawn so far
by its user key (element id, fragment, label). It has no I/O, so its message building and
message reading are unit-tested; :class:`StreamlitClient` adds the websocket (``websockets``).
No browser: one client costs a few milliseconds of CPU per run instead of a Chromium.

Like a browser, the client first loads the page over HTTP and sends the cookies it got with
its websocket (Docket binds a sign-in to its browser cookie), and it can reconnect to an
existing session by its id (the third websocket subprotocol entry, as the browser does after
a dropped connection).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = "streamlit"
# ForwardMsg.ScriptFinishedStatus: a run that stopped only because another one starts (an
# st.rerun or a newer request) is not the end of what the client asked for.
FINISHED_EARLY_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
FINISHED_WITH_COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR


class ClientError(RuntimeError):
    """The app did not behave as the client expected (a widget missing, an error drawn)."""


def user_key(element_id: str) -> str | None:
    """Return the user key inside a Streamlit element id (``$$ID-<hash>-<key>``), or None.

    Mirrors ``streamlit.runtime.state.common.user_key_from_element_id``.
    """
    if not element_id.startswith("$$ID-"):
        return None
    key = element_id.split("-", maxsplit=2)[-1]
    return None if key == "None" else key


@dataclass(frozen=True)
class Widget:
    """A widget as last drawn: its element id, type, label and the fragment it belongs to."""

    element_id: str
    kind: str
    label: str
    fragment_id: str


def trigger(element_id: str) -> WidgetState:
    """Return the widget state of one button press (a form submit button included)."""
    return WidgetState(id=element_id, trigger_value=True)


def text_value(element_id: str, value: str) -> WidgetState:
    """Return the widget state of a text input holding ``value``."""
    return WidgetState(id=element_id, string_value=value)


@dataclass
class PageState:
    """What the browser remembers between runs of one session (no I/O).

    ``widgets`` maps a user key to the widget drawn with it most recently; ``errors`` collects
    the text of ``st.error`` / exception elements of the last run, ``drawn`` the user keys of
    the widgets it drew, ``html`` the bodies of its ``st.html`` elements (scripts the browser
    would run, e.g. Docket's session-cookie exchange), ``markdown`` the bodies of its
    ``st.markdown`` elements (what the browser would fetch for a markdown image, say);
    ``session_id`` is the id the server gave the session.
    """

    page_name: str = ""
    query_string: str = ""
    page_script_hash: str = ""
    session_id: str = ""
    widgets: dict[str, Widget] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    drawn: set[str] = field(default_factory=set)
    html: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)

    def rerun(self, widget_states: Iterable[WidgetState] = (), *, fragment_id: str = ""
              ) -> BackMsg:
        """Return the ``BackMsg`` that asks for a run with ``widget_states`` (a fragment run
        when ``fragment_id`` is given), for the current page and query string."""
        message = BackMsg()
        client_state = message.rerun_script
        client_state.query_string = self.query_string
        client_state.page_script_hash = self.page_script_hash
        client_state.page_name = "" if self.page_script_hash else self.page_name
        client_state.widget_states.widgets.extend(widget_states)
        if fragment_id:
            client_state.fragment_id = fragment_id
        return message

    def press(self, key: str, extra: Mapping[str, str] | None = None) -> BackMsg:
        """Return the ``BackMsg`` of a click on the button with user key ``key`` (as a fragment
        run if the button is in a fragment), with ``extra`` text inputs ``{key: value}``.

        Raises ClientError if no widget with one of these keys was drawn.
        """
        button = self.widget(key)
        states = [text_value(self.widget(name).element_id, value)
                  for name, value in (extra or {}).items()]
        states.append(trigger(button.element_id))
        return self.rerun(states, fragment_id=button.fragment_id)

    def widget(self, key: str) -> Widget:
        """Return the widget last drawn with user key ``key``; raises ClientError if none."""
        try:
            return self.widgets[key]
        except KeyError:
            raise ClientError(f"no widget with key {key!r} on the page (keys: "
                              f"{', '.join(sorted(self.widgets)) or 'none'})") from None

    def apply(self, message: ForwardMsg) -> int | None:
        """Take in one ``ForwardMsg``; return its ``script_finished`` status, else None."""
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self.session_id = message.new_session.initialize.session_id
        elif kind == "navigation":
            # The page that ran (``new_session`` names the entry script, not the page).
            self.page_script_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = message.page_info_changed.query_string
        elif kind == "delta":
            self._delta(message.delta)
        elif kind == "script_finished":
            return message.script_finished
        return None

    def _delta(self, delta: Any) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind in ("alert", "exception"):
            body = getattr(element, kind)
            if kind == "exception" or body.format == body.ERROR:
                self.errors.append(body.message if kind == "exception" else body.body)
            return
        if kind == "html":
            self.html.append(element.html.body)
            return
        if kind == "markdown":
            self.markdown.append(element.markdown.body)
            return
        proto = getattr(element, kind, None) if kind else None
        element_id = getattr(proto, "id", "") if proto is not None else ""
        key = user_key(element_id) if isinstance(element_id, str) else None
        if key is not None:
            self.drawn.add(key)
            self.widgets[key] = Widget(element_id, kind, getattr(proto, "label", ""),
                                       delta.fragment_id)


@dataclass(frozen=True)
class RunResult:
    """One finished run: its ``script_finished`` status, the round trip (ms), how many
    messages came back and their bytes (as received over the websocket)."""

    status: int
    round_trip_ms: float
    messages: int
    received_bytes: int


def page_cookies(base_url: str, headers: Mapping[str, str] | None = None) -> str:
    """Load ``base_url`` and return the cookies it set, as a ``Cookie`` header value."""
    request = urllib.request.Request(base_url, headers=dict(headers or {}))
    with urllib.request.urlopen(request, timeout=30) as response:
        return "; ".join(cookie.split(";", 1)[0]
                         for cookie in response.headers.get_all("Set-Cookie") or ())


class StreamlitClient:
    """One browser session, without the browser: a websocket and a :class:`PageState`.

    ``headers`` go with the page load and the websocket (e.g. ``X-Forwarded-For``);
    ``load_page=False`` skips the page load, so the websocket carries no cookies.
    """

    def __init__(self, base_url: str, page_name: str, query_string: str = "", *,
                 headers: Mapping[str, str] | None = None, load_page: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.ws_url = self.base_url.replace("http://", "ws://", 1) + STREAM_PATH
        self.state = PageState(page_name=page_name, query_string=query_string)
        self.headers = dict(headers or {})
        self.load_page = load_page
        self.cookies = ""  # what the page load set, as a Cookie header value
        self._socket: Any = None

    async def connect(self, *, resume: str = "") -> RunResult:
        """Load the page, open the websocket and run the page once (what opening the URL does).

        ``resume``: the id of a session to reconnect to instead of starting a new one.
        """
        import asyncio

        from websockets.asyncio.client import connect

        headers = dict(self.headers)
        if self.load_page:
            self.cookies = await asyncio.to_thread(page_cookies, self.base_url + "/", self.headers)
            if self.cookies:
                headers["Cookie"] = self.cookies
        # The browser's entries: the subprotocol, an XSRF token (unused without st.login), and
        # the session to resume.
        subprotocols = [SUBPROTOCOL, "-", resume] if resume else [SUBPROTOCOL]
        self._socket = await connect(self.ws_url, subprotocols=subprotocols, max_size=None,
                                     compression=None, open_timeout=30,
                                     additional_headers=headers)
        return await self.send(self.state.rerun())

    async def send(self, message: BackMsg, *, timeout: float = 60) -> RunResult:
        """Send ``message`` and read until its run finished; return the run's result.

        Runs that end early for a rerun (an ``st.rerun`` in a callback) are followed to the
        run that finishes. Raises ClientError on a compile error or when the run drew an
        ``st.error``/exception, TimeoutError after ``timeout`` seconds.
        """
        import asyncio

        self.state.errors, self.state.drawn = [], set()
        self.state.html, self.state.markdown = [], []
        start = time.perf_counter()
        await self._socket.send(message.SerializeToString())
        count = received = 0
        async with asyncio.timeout(timeout):
            while True:
                frame = await self._socket.recv()
                forward = ForwardMsg()
                forward.ParseFromString(frame)
                count += 1
                received += len(frame)
                status = self.state.apply(forward)
                if status is None or status == FINISHED_EARLY_FOR_RERUN:
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                if status == FINISHED_WITH_COMPILE_ERROR or self.state.errors:
                    raise ClientError("the run failed: " + " | ".join(self.state.errors))
                return RunResult(status, elapsed, count, received)

    async def press(self, key: str, extra: Mapping[str, str] | None = None) -> RunResult:
        """Click the button with user key ``key`` (see :meth:`PageState.press`)."""
        return await self.send(self.state.press(key, extra))

    async def close(self) -> None:
        """Close the websocket (the server ends the session)."""
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
