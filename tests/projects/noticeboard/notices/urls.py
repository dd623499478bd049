from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.new, name="new"),
    path("notices/<int:pk>/", views.detail, name="detail"),
    path("visits/", views.visits, name="visits"),
    path("cache/", views.cache_hits, name="cache"),
    path("health/", views.health, name="health"),
]
