#!/usr/bin/python3
"""wkshell: the smallest WebKitGTK browser the conformance suite drives through
WebKitWebDriver (as `webkitgtk:browserOptions.binary`, with `args: ["--automation"]`).

Why not MiniBrowser: under automation MiniBrowser uses an ephemeral session, and WebCore
writes console messages to stderr only for pages of a persistent one. This shell uses a
fresh persistent data directory (removed when it exits) and turns on
`enable-write-console-messages-to-stdout` (the text goes to stderr), so each blocked
`fetch()` prints `CONSOLE SECURITY ERROR …` and `CONSOLE JS ERROR Fetch API cannot load …`.

Debian's `/usr/bin/python3` on purpose: `python3-gi` and `gir1.2-webkit2-4.1` install there.
"""

import atexit
import os
import shutil
import sys
import tempfile

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2  # noqa: E402


def main():
    automation = "--automation" in sys.argv[1:]
    # Under WKSHELL_DATA_ROOT when the suite sets it: the driver SIGKILLs this process at
    # the session's end, so the suite removes that root (atexit covers a normal exit).
    data = tempfile.mkdtemp(prefix="wkshell-", dir=os.environ.get("WKSHELL_DATA_ROOT"))
    atexit.register(shutil.rmtree, data, True)
    manager = WebKit2.WebsiteDataManager(
        base_data_directory=data + "/data", base_cache_directory=data + "/cache"
    )
    context = WebKit2.WebContext.new_with_website_data_manager(manager)
    settings = WebKit2.Settings()
    settings.set_property("enable-write-console-messages-to-stdout", True)
    windows = []

    def new_view():
        view = WebKit2.WebView(
            web_context=context,
            settings=settings,
            is_controlled_by_automation=automation,
        )
        window = Gtk.Window()
        window.set_default_size(1024, 768)
        window.add(view)
        window.connect("destroy", lambda w: forget(w))
        view.connect("close", lambda v: window.destroy())
        window.show_all()
        windows.append(window)
        return view

    def forget(window):
        if window in windows:
            windows.remove(window)
        if not windows and not automation:
            Gtk.main_quit()

    def automation_started(_context, session):
        info = WebKit2.ApplicationInfo()
        info.set_name("wkshell")
        info.set_version(
            WebKit2.get_major_version(),
            WebKit2.get_minor_version(),
            WebKit2.get_micro_version(),
        )
        session.set_application_info(info)
        session.connect("create-web-view", lambda _s: new_view())

    if automation:
        context.set_automation_allowed(True)
        context.connect("automation-started", automation_started)
    else:
        url = next((a for a in sys.argv[1:] if not a.startswith("--")), "about:blank")
        new_view().load_uri(url)
    Gtk.main()


if __name__ == "__main__":
    main()
