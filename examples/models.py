"""Types used by the command-line examples (`structgen run --type examples.models:Book`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Book(BaseModel):
    title: str = Field(max_length=60)
    author: str = Field(max_length=40)
    year: int = Field(ge=1000, le=2030)
