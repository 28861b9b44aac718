"""Import every area's models so SQLAlchemy and Alembic see the whole schema."""

from .api.models import ApiToken  # noqa: F401
from .audit.models import AuditEvent, AuditHead  # noqa: F401
from .auth.models import LoginFailure, LoginLock, RecoveryCode, User, UserSession  # noqa: F401
from .briefs.models import Brief, PracticeMark  # noqa: F401
from .cases.models import Case, CaseAttachment, CaseAuditLink, CaseFigure, CaseRequest  # noqa: F401
from .integrity.models import Flag  # noqa: F401
from .plans.draft_models import PlanDraft  # noqa: F401
from .plans.models import Assignment, Indicator, Period, Plan, Section, Task, TaskGroup  # noqa: F401
from .rankings.models import RankingPublication  # noqa: F401
from .reminders.models import DueOverride, InboxEntry, LadderStep, Notice, SchedulerJob  # noqa: F401
from .reports.models import Figure, FigureRestatement, FigureRevision, Report, ReportTransition  # noqa: F401
from .units.models import LiaisonTerm, Unit, UnitGroup, UnitGroupMember  # noqa: F401
