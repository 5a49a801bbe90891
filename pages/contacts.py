"""TODO(owner): this page is being built."""

import streamlit as st

from pages import _ui

_ui.require_user()
st.title("contacts")
