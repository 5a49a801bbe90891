"""What Ringround adds to Streamlit's page in the browser: one style sheet, one small script.

The style sheet makes tap targets 44 px high and keeps the calling page's outcome and Save bar
in reach on a phone. The script runs when a new contact is on the calling page: it announces the
contact (and the last save) to screen readers through one polite live region, and after a save
brings the card into view with focus on the contact's name.

server.py's Content-Security-Policy allows no inline script except by hash: it hashes
INLINE_SCRIPTS, so the script's text must stay constant (its data rides in data- attributes).
"""

from __future__ import annotations

from html import escape

import streamlit as st

APP_CSS = """
/* Tap targets at least 44 px high (WCAG 2.5.5), for thumbs on phones. */
.stButton button, .stLinkButton a, .stDownloadButton button, .stFormSubmitButton button,
[data-testid="stPageLink"] a, [data-testid="stSidebarNav"] a {
  min-height: 44px;
}
label[data-testid="stRadioOption"],
[data-testid="stCheckbox"] label {
  min-height: 44px;
  align-items: center;
  padding-right: 0.75rem;
}
/* Captions at 4.5:1 or better on white: Streamlit fades them to 60 % opacity, 2.9:1
   (WCAG 1.4.3); this grey is 6.9:1. */
[data-testid="stCaptionContainer"] {
  opacity: 1 !important;
  color: #5b5e68 !important;
}
/* The parts of a date or time field (day, month, hour…), 24 px at least (WCAG 2.5.8). */
[data-testid="stDateInput"] [role="spinbutton"],
[data-testid="stTimeInput"] [role="spinbutton"] {
  display: inline-block;
  min-width: 24px;
  min-height: 24px;
  text-align: center;
}
/* On a phone the outcome and Save bar stays at the bottom of the screen while the script and
   survey scroll above it. */
@media (max-width: 640px) {
  /* Sticky on Streamlit's wrapper, which is exactly the bar's size; its parent is the page. */
  [data-testid="stLayoutWrapper"]:has(> .st-key-calling_actions) {
    position: sticky;
    bottom: 0;
    z-index: 50;
  }
  .st-key-calling_actions {
    max-height: 55vh;
    overflow-y: auto;
    background: #ffffff;
    border-top: 1px solid #8a8f98;
    box-shadow: 0 -4px 12px rgba(0, 0, 0, 0.12);
    padding: 0.5rem 0.25rem;
  }
}
/* Brought into view after Save: clear of Streamlit's fixed header. */
.st-key-calling_card { scroll-margin-top: 4.5rem; }
.rr-sr-only {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
.stHtml:has(> .rr-new-contact) { display: none; }
"""

NEW_CONTACT_SCRIPT = """
(() => {
  const marks = document.querySelectorAll('.rr-new-contact');
  const mark = marks[marks.length - 1];
  if (!mark || window.__rrContactToken === mark.dataset.token) return;
  window.__rrContactToken = mark.dataset.token;
  let live = document.getElementById('rr-live');
  if (!live) {
    live = document.createElement('div');
    live.id = 'rr-live';
    live.className = 'rr-sr-only';
    live.setAttribute('role', 'status');
    live.setAttribute('aria-live', 'polite');
    document.body.appendChild(live);
  }
  live.textContent = '';
  setTimeout(() => { live.textContent = mark.dataset.announce; }, 150);
  if (mark.dataset.focus !== 'true') return;
  const bring = () => {
    const card = document.querySelector('.st-key-calling_card');
    const name = card && card.querySelector('h3');
    if (!name) return false;
    name.setAttribute('tabindex', '-1');
    card.scrollIntoView({block: 'start'});
    name.focus({preventScroll: true});
    return true;
  };
  if (!bring()) requestAnimationFrame(bring);
})();
"""

INLINE_SCRIPTS = (NEW_CONTACT_SCRIPT,)


def apply_app_style() -> None:
    """Ringround's style sheet on every page (style-only HTML takes no room on the page)."""
    st.html(f"<style>{APP_CSS}</style>")


def announce_contact(*, token: str, message: str, move_focus: bool) -> None:
    """Announce a new contact once per `token`; with move_focus, bring their card into view.

    The message holds contact data: it is escaped into an attribute and set as plain text.
    """
    st.html(
        f'<div class="rr-new-contact" hidden data-token="{escape(token)}" '
        f'data-announce="{escape(message)}" data-focus="{str(move_focus).lower()}"></div>'
        f"<script>{NEW_CONTACT_SCRIPT}</script>",
        unsafe_allow_javascript=True,
    )
