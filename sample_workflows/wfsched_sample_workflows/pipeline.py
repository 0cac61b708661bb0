"""Several steps passing results along: each step reads the earlier ones' returns."""

from wfsched_core import Workflow, step


class ExtractTransformLoad(Workflow):
    """Extract rows, transform them, load a summary."""

    retries = 1

    @step
    def extract(self, ctx):
        rows = int(ctx.params.get("rows", 5))
        data = [{"id": i, "amount": i * 10} for i in range(rows)]
        ctx.log.info("extracted %d rows", len(data))
        return {"rows": data}

    @step
    def transform(self, ctx):
        rows = ctx.results["extract"]["rows"]
        total = sum(row["amount"] for row in rows)
        return {"count": len(rows), "total": total}

    @step
    def load(self, ctx):
        summary = ctx.results["transform"]
        print(f"loaded {summary['count']} rows, total {summary['total']}")
        return summary
