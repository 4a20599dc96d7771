"""Reports over HTTP: the daily log (``/api/reports/daily``, Markdown or JSON, as ``report
daily``) and the month-end close (``/api/reports/month-end``, the XLSX workbook or the offline
HTML page, as ``report month-end``), downloaded as files. The month-end files are written to a
temporary folder, streamed, then removed. Reading needs a token of any role."""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse, Response

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.entrypoints.cli.report import render
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, ApiRefusal, Refusal, refusing
from returnbridge.reports.monthend import write_month_end
from returnbridge.services.access import Principal
from returnbridge.store.daily import daily_figures
from returnbridge.store.sql import transaction

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MARKDOWN = "text/markdown; charset=utf-8"
HTML = "text/html; charset=utf-8"
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class DailyFormat(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


class MonthEndFormat(StrEnum):
    XLSX = "xlsx"
    HTML = "html"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


_BAD_MONTH: dict[int | str, dict[str, Any]] = {
    400: {"model": Refusal, "description": "invalid_request: not YYYY-MM, or not started."}
}


def reports_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api/reports", tags=["reports"], responses=AUTH_ANSWERS)
    reader = guard.require(Permission.READ, "reading reports")

    @router.get(
        "/daily",
        response_class=Response,
        responses={
            200: {
                "content": {MARKDOWN: {}, "application/json": {}},
                "description": "The daily log as Markdown, or its figures as JSON.",
            }
        },
        summary="The daily log of one UTC day: arrivals, processing, Amazon, credits, exceptions",
    )
    def daily(
        day: date = Query(..., alias="date", description="The UTC day, YYYY-MM-DD."),
        format: DailyFormat = DailyFormat.MARKDOWN,
        _: Principal = Depends(reader),
    ) -> Response:
        with refusing(), transaction(rb.engine) as store:
            figures = daily_figures(store.conn, day, as_of=rb.clock())
        if format is DailyFormat.JSON:
            return JSONResponse(figures, headers=_attachment(f"daily-log-{day}.json"))
        return Response(
            render(figures), media_type=MARKDOWN, headers=_attachment(f"daily-log-{day}.md")
        )

    @router.get(
        "/month-end",
        response_class=FileResponse,
        responses={
            200: {
                "content": {XLSX: {}, HTML: {}},
                "description": "month-end-YYYY-MM.xlsx or .html, as a download.",
            },
            **_BAD_MONTH,
        },
        summary="The month-end close of one UTC month, as XLSX or offline HTML",
    )
    def month_end(
        month: str = Query(..., description="The UTC month, YYYY-MM."),
        format: MonthEndFormat = MonthEndFormat.XLSX,
        _: Principal = Depends(reader),
    ) -> FileResponse:
        found = MONTH.match(month)
        if found is None:
            raise ApiRefusal(400, "invalid_request", f"month {month!r}: expected YYYY-MM")
        folder = Path(tempfile.mkdtemp(prefix="returnbridge-month-end-"))
        try:
            with refusing():
                files = write_month_end(
                    rb, date(int(found[1]), int(found[2]), 1), folder, rb.clock()
                )
        except ValueError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ApiRefusal(400, "invalid_request", str(exc)) from exc
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        path = files.xlsx if format is MonthEndFormat.XLSX else files.html
        return FileResponse(
            path,
            media_type=XLSX if format is MonthEndFormat.XLSX else HTML,
            filename=path.name,
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    return router
