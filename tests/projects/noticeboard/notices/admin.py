from django.contrib import admin

from .models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["title", "created_at", "published_at", "host"]
    list_filter = ["published_at"]
    search_fields = ["title", "body"]
    readonly_fields = ["created_at", "published_at", "host"]
