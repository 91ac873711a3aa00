"""The string forms (repr, str, exception text) of everything that holds
or meets a secret never contain it."""

import asyncio

import pytest

import share_backup as sb
from conftest import make

PASSWORD = "pw-3f9a1c-never-printed-long-enough"
TOKEN = "ya29.token-7d2e-never-printed"
API_KEY = "portal-client-api-key-5b8e"
ACCESS_KEY = "aws-secret-access-key-c41d"
SECRETS = (PASSWORD, TOKEN, API_KEY, ACCESS_KEY)


def assert_no_secret(text):
    for s in SECRETS:
        assert s not in text, text


def test_configs_notifier_store_and_provider_context_print_no_password_token_api_key_or_access_key():
    configs = sb.CallConfigs(
        password=PASSWORD,
        password_bytes=PASSWORD.encode(),
        google_access_token=TOKEN,
        provider_configs={"custom": {"token": TOKEN}},
    )
    portal = sb.NotifierConfig.PORTAL(
        base_url="https://api.example", api_version="v1", client_api_key=API_KEY, allow_insecure_http=False
    )
    store = sb.StoreConfig.URL(url="s3://bucket/prefix", options={"aws_secret_access_key": ACCESS_KEY})
    config = sb.ShareBackupConfig(store=store, notifier=portal)
    sealed = sb.SealedKey(key=PASSWORD.encode(), header=b"\x01")
    ctx = sb.ProviderContext(
        user_id="alice", backup_id="0" * 32, custodian_id=None, client_id=None, configs={"token": TOKEN}
    )
    for obj in (configs, portal, store, config, sealed, ctx):
        assert_no_secret(repr(obj))
        assert_no_secret(str(obj))
    assert "REDACTED" in repr(configs)


def test_errors_and_receipts_print_no_password():
    s = make()
    receipt = asyncio.run(s.backup("alice", b"share", configs=sb.CallConfigs(password=PASSWORD), method="password"))
    assert_no_secret(repr(receipt) + str(receipt))
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("alice", configs=sb.CallConfigs(password=PASSWORD + "-but-wrong")))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET
    text = repr(e.value) + str(e.value) + e.value.message
    assert_no_secret(text)
    assert "-but-wrong" not in text
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("alice", b"share", configs=sb.CallConfigs(password="short1"), method="password"))
    assert "short1" not in repr(e.value) + str(e.value) + e.value.message
