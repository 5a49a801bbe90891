"""Team (organisers): who can sign in, in what role; invite links; unlocks and reset links.

Actions run before the tables are drawn (the tables fill a slot at the top at the end of the
run), so what is shown is always the state after the click. Links carrying a token are shown
in the run that made them and never kept in session state: reload the page and they are gone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from core import auth
from core.accounts import AccountError
from core.display import uk_datetime
from core.qr import qr_png
from core.runtime import Session
from pages import _ui

organiser = _ui.require_organiser()
settings = _ui.runtime().settings

zone = ZoneInfo(settings.timezone)


def local(moment: datetime | None) -> str:
    """Times are stored in UTC; organisers read them in the app's zone, the UK way."""
    return uk_datetime(moment, zone) if moment else ""


st.title("Team")
people_slot = st.container()


def run_action(action: Callable[[Session], object], done: str) -> object | None:
    """Run one team action; show the refusal or the confirmation (as plain text: it carries a
    volunteer's self-chosen name)."""
    return _ui.run_action(action, errors=(auth.AuthError, AccountError), done=done,
                          shown="text").value


# --- acting on one person ---------------------------------------------------------------------

with _ui.read_session() as session:
    team = auth.list_team(session=session)
by_id = {member.id: member for member in team}

st.subheader("Change someone's access")
member_id = st.selectbox(
    "Person", options=list(by_id), key="team_member",
    format_func=lambda i: f"{by_id[i].name} ({by_id[i].username}, {by_id[i].role}"
                          f"{', deactivated' if not by_id[i].active else ''}"
                          f"{', locked' if by_id[i].locked else ''})",
)
if member_id is not None:
    member = by_id[member_id]
    cols = st.columns(5)
    if member.active:
        if cols[0].button("Deactivate", key="team_deactivate", disabled=member.id == organiser.id,
                          help="Ends their sessions at once; they can no longer sign in."):
            run_action(lambda s: auth.deactivate_user(session=s, user_id=member.id,
                                                      actor_id=organiser.id),
                       f"{member.name} is deactivated and signed out.")
    elif cols[0].button("Reactivate", key="team_reactivate"):
        run_action(lambda s: auth.reactivate_user(session=s, user_id=member.id,
                                                  actor_id=organiser.id),
                   f"{member.name} can sign in again.")
    if member.role == "organiser":
        if cols[1].button("Make volunteer", key="team_demote"):
            run_action(lambda s: auth.demote_user(session=s, user_id=member.id,
                                                  actor_id=organiser.id),
                       f"{member.name} is now a volunteer.")
    elif cols[1].button("Make organiser", key="team_promote",
                        help="Organisers see every contact, import lists and manage the team."):
        run_action(lambda s: auth.promote_user(session=s, user_id=member.id,
                                               actor_id=organiser.id),
                   f"{member.name} is now an organiser.")
    if cols[2].button("Unlock", key="team_unlock", disabled=not member.locked and
                      member.failed_logins == 0):
        run_action(lambda s: auth.unlock_user(session=s, user_id=member.id,
                                              actor_id=organiser.id),
                   f"{member.name} is unlocked and can sign in again.")
    if cols[3].button("Password reset link", key="team_reset", disabled=not member.active):
        reset = run_action(
            lambda s: auth.create_password_reset(session=s, user_id=member.id,
                                                 actor_id=organiser.id),
            f"One-time reset link for {member.name}, valid for {auth.RESET_LINK_HOURS} hours. "
            "Copy it now: it is shown only once.",
        )
        if isinstance(reset, auth.NewPasswordReset):
            st.code(auth.reset_link(reset.token, _ui.app_base_url()), language=None)
    if cols[4].button("Sign out everywhere", key="team_end_sessions"):
        run_action(lambda s: auth.end_sessions(session=s, user_id=member.id,
                                               actor_id=organiser.id),
                   f"{member.name} is signed out on every device.")


# --- invites ----------------------------------------------------------------------------------

st.subheader("Invite volunteers")
with _ui.read_session() as session:
    campaigns = dict(auth.invite_campaign_choices(session=session))
with st.form("invite_form"):
    label = st.text_input("Label (for you)", key="invite_label", max_chars=200,
                          placeholder="Saturday campaign day")
    campaign_id = st.selectbox(
        "Add them to campaign", options=[None, *campaigns], key="invite_campaign",
        format_func=lambda i: "No particular campaign" if i is None else campaigns[i],
    )
    left, right = st.columns(2)
    hours = left.selectbox(
        "Link expires after", options=[6, 24, 48, 24 * 7, 24 * 30], index=2, key="invite_hours",
        format_func=lambda h: f"{h} hours" if h < 48 else f"{h // 24} days",
    )
    max_uses = right.number_input("Uses allowed", min_value=1, max_value=auth.MAX_INVITE_USES,
                                  value=50, step=1, key="invite_max_uses")
    create = st.form_submit_button("Create invite link", type="primary", key="invite_create")
if create:
    new = run_action(
        lambda s: auth.create_invite(session=s, actor_id=organiser.id,
                                     expires_in_hours=float(hours), max_uses=int(max_uses),
                                     label=label, campaign_id=campaign_id),
        "Invite link created. Copy it now and send it to your volunteers: it is shown only once.",
    )
    if isinstance(new, auth.NewInvite):
        link = auth.invite_link(new.token, _ui.app_base_url())
        st.code(link, language=None, wrap_lines=True)
        st.caption("Copy it with the copy button at the link's right, or let people in the room "
                   "scan the code.")
        if link.startswith("http"):
            st.image(qr_png(link), caption="Scan to join Ringround", width=280)
        else:
            st.caption("Set RINGROUND_PUBLIC_URL to get a full link; until then, put this "
                       "app's address in front of it.")

with _ui.read_session() as session:
    live = {i.id: i for i in auth.list_invites(session=session) if i.status == "active"}
if live:
    revoke_id = st.selectbox(
        "Withdraw an invite", options=list(live), key="invite_revoke_choice",
        format_func=lambda i: f"{live[i].label or 'Invite'} (made "
                              f"{local(live[i].created_at)}, {live[i].uses} used)",
    )
    if st.button("Withdraw invite", key="invite_revoke"):
        run_action(lambda s: auth.revoke_invite(session=s, invite_id=revoke_id,
                                                actor_id=organiser.id),
                   "Invite withdrawn: its link no longer works.")

with _ui.read_session() as session:
    invites = auth.list_invites(session=session)
if invites:
    st.dataframe(
        [
            {"Label": i.label, "Campaign": i.campaign_name, "Status": i.status,
             "Used": f"{i.uses} / {i.max_uses}", "Expires": local(i.expires_at),
             "Created": local(i.created_at)}
            for i in invites
        ],
        hide_index=True, width="stretch",
    )
else:
    st.caption("No invites yet.")


# --- the people table, drawn last so it shows the result of any action above ------------------

with _ui.read_session() as session:
    team = auth.list_team(session=session)
with people_slot:
    st.dataframe(
        [
            {"Name": m.name, "Username": m.username, "Email": m.email, "Role": m.role,
             "Active": m.active, "Locked": m.locked, "Last sign-in": local(m.last_login_at)}
            for m in team
        ],
        hide_index=True, width="stretch",
    )
