"""Error pages: Chinese, no stack trace; an oversized request body answers 413."""


def test_oversized_body_gets_a_chinese_413(app, factory, login):
    factory.user("admin", role="admin")
    client = login(app.test_client(), "admin")
    response = client.post("/admin/units/new", data={"name": "x" * (17 * 1024 * 1024)})
    assert response.status_code == 413
    assert "文件过大" in response.text and "Traceback" not in response.text


def test_database_outage_gets_a_503_that_says_nothing_was_saved(app, factory, login):
    """A lost database connection (PostgreSQL restarting) answers 503 with Retry-After and a plain
    page that needs neither the user nor the database, not a bare 500."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    factory.user("staff", role="staff")
    client = login(app.test_client(), "staff")

    def refuse(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, Exception("connection refused"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        response = client.get("/review/overdue")
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "无法连接数据库" in response.text and "没有保存任何内容" in response.text
    assert "Traceback" not in response.text and "connection refused" not in response.text
    assert client.get("/review/overdue").status_code == 200  # and back once the database is


def test_database_outage_in_the_api_is_a_json_503(app, factory):
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from app.api.services import TOKEN_PREFIX
    from app.extensions import db

    def refuse(conn, cursor, statement, parameters, context, executemany):
        raise OperationalError(statement, parameters, Exception("connection refused"))

    client = app.test_client()
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", refuse)
    try:
        response = client.get("/api/v1/plans", headers={"Authorization": f"Bearer {TOKEN_PREFIX}" + "x" * 40})
    finally:
        event.remove(engine, "before_cursor_execute", refuse)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert response.json["error"]["code"] == "database_unavailable"


def test_the_openapi_document_lists_the_503(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec["paths"]["/api/v1/plans"]["get"]["responses"]["503"] == {"$ref": "#/components/responses/E503"}
    assert "Retry-After" in spec["components"]["responses"]["E503"]["description"]
