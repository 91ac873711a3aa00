"""Password backups through the Python bindings: round trip, progress,
wrong secrets, the live policy check, and no secret in any repr."""

import asyncio

import pytest

import share_backup as sb
from conftest import PASSWORD, Events, make, pw

SHARE = bytes(range(32)) * 4

BACKUP_ORDER = [
    sb.ProgressStatus.READING,
    sb.ProgressStatus.DERIVING_KEY,
    sb.ProgressStatus.ENCRYPTING,
    sb.ProgressStatus.VERIFYING,
    sb.ProgressStatus.STORING,
    sb.ProgressStatus.ACKNOWLEDGING,
    sb.ProgressStatus.DONE,
]


def test_password_backup_round_trips_and_is_acknowledged_once():
    s = make()

    async def run():
        r = await s.backup("alice", SHARE, configs=pw(), method="password")
        back = await s.recover("alice", configs=pw())
        return r, back

    receipt, back = asyncio.run(run())
    assert back == SHARE
    assert receipt.method == "password"
    assert receipt.cipher_text.startswith("sb1.")
    assert len(receipt.backup_id) == 32
    assert [(n.backup_id, n.success) for n in s.notifications()] == [(receipt.backup_id, True)]
    assert asyncio.run(s.methods("alice")) == ["password"]


def test_password_can_be_given_as_utf8_bytes():
    s = make()
    asyncio.run(s.backup("bob", SHARE, configs=sb.CallConfigs(password_bytes=PASSWORD.encode()), method="password"))
    assert asyncio.run(s.recover("bob", configs=pw())) == SHARE


def test_progress_arrives_in_order_and_ends_with_one_done():
    s = make()
    ev = Events()
    asyncio.run(s.backup("carol", SHARE, configs=pw(), method="password", progress=ev))
    statuses = [st for st, _ in ev.events]
    assert statuses == [st for st in BACKUP_ORDER if st in statuses]
    assert statuses[-1] == sb.ProgressStatus.DONE
    assert [d for _, d in ev.events] == [False] * (len(ev.events) - 1) + [True]
    assert sb.ProgressStatus.STORING in statuses and sb.ProgressStatus.ACKNOWLEDGING in statuses


def test_progress_of_a_failed_recovery_ends_with_failed_done():
    s = make()
    asyncio.run(s.backup("dave", SHARE, configs=pw(), method="password"))
    ev = Events()
    with pytest.raises(sb.ShareBackupError):
        asyncio.run(s.recover("dave", configs=pw("not the password at all"), progress=ev))
    assert ev.events[-1] == (sb.ProgressStatus.FAILED, True)
    assert [d for _, d in ev.events].count(True) == 1


def test_wrong_password_raises_the_wrong_secret_kind():
    s = make()
    asyncio.run(s.backup("erin", SHARE, configs=pw(), method="password"))
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("erin", configs=pw("Tr0ub4dor&3 is not it")))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET
    assert e.value.method == "password"
    assert not e.value.retryable
    assert "Tr0ub4dor" not in str(e.value) and "Tr0ub4dor" not in repr(e.value)


def test_live_policy_check_reports_typed_violations_per_keystroke():
    policy = sb.PasswordPolicy({"policy": "pin"})
    assert policy.requirements()[0] == "6 to 12 characters"
    typed = ""
    checks = []
    for ch in "48213957":
        typed += ch
        checks.append(policy.check(typed, "frank"))
    assert not checks[0].ok
    assert any(v.kind == sb.ViolationKind.TOO_SHORT(min=6, actual=1) for v in checks[0].violations)
    assert checks[-1].ok and checks[-1].violations == []
    common = sb.check_password({"policy": "pin"}, "123456", "frank")
    assert not common.ok
    assert {v.code for v in common.violations} & {"common", "sequential"}
    assert 0 <= common.strength.score <= 4
    assert sb.password_requirements({}) == sb.PasswordPolicy({}).requirements()


def test_backup_with_a_weak_password_raises_policy_violation_and_acknowledges_nothing():
    s = make()
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("gina", SHARE, configs=pw("password"), method="password"))
    assert e.value.kind == sb.ErrorKind.POLICY_VIOLATION
    assert "common" in [v.code for v in e.value.violations]
    assert all(not n.success for n in s.notifications())


def test_bad_settings_raise_invalid_input():
    with pytest.raises(sb.ShareBackupError) as e:
        sb.PasswordPolicy({"no_such_setting": "1"})
    assert e.value.kind == sb.ErrorKind.INVALID_INPUT


def test_no_secret_in_any_repr_or_str():
    secret = "hunter2-very-secret-value"
    objs = [
        sb.CallConfigs(password=secret, google_access_token=secret),
        sb.CallConfigs(password_bytes=secret.encode()),
        sb.NotifierConfig.PORTAL(base_url="https://api.example", api_version="v1", client_api_key=secret, allow_insecure_http=False),
        sb.StoreConfig.URL(url=f"s3://user:{secret}@bucket/p?token={secret}", options={"aws_secret_access_key": secret}),
        sb.SealedKey(key=secret.encode() * 3, header=b"h"),
    ]
    for o in objs:
        assert secret not in repr(o), type(o)
        assert secret not in str(o), type(o)
    check = sb.check_password({}, secret, "alice")
    assert secret not in repr(check)


def test_rotate_rewraps_under_a_new_password():
    s = make()
    asyncio.run(s.backup("hank", SHARE, configs=pw(), method="password"))
    new = "purple monkey dishwasher rotates"
    r = asyncio.run(s.rotate("hank", "password", pw(), pw(new)))
    assert r.method == "password"
    assert asyncio.run(s.recover("hank", configs=pw(new))) == SHARE
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("hank", configs=pw()))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET


def test_verify_and_providers_and_probe():
    s = make()
    ids = [p.id for p in s.providers()]
    assert "password" in ids and "gdrive" in ids
    pw_info = next(p for p in s.providers() if p.id == "password")
    assert any(st.key == "space_cost" for st in pw_info.settings)
    asyncio.run(s.backup("ivy", SHARE, configs=pw(), method="password"))
    h = asyncio.run(s.verify("ivy", "password"))
    assert h.method == "password" and h.share_len == len(SHARE) and not h.key_checked
    asyncio.run(s.probe("ivy", configs=pw(), method="password"))
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.probe("ivy", configs=pw("short"), method="password"))
    assert e.value.kind == sb.ErrorKind.POLICY_VIOLATION
