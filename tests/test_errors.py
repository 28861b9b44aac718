"""Error pages: Chinese, no stack trace; an oversized request body answers 413."""


def test_oversized_body_gets_a_chinese_413(app, factory, login):
    factory.user("admin", role="admin")
    client = login(app.test_client(), "admin")
    response = client.post("/admin/units/new", data={"name": "x" * (17 * 1024 * 1024)})
    assert response.status_code == 413
    assert "文件过大" in response.text and "Traceback" not in response.text
