from django.conf import settings
from django.conf.urls.static import static
from django.urls import path
from entries import views

urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("uploads/", views.uploads, name="uploads"),
    path("healthz", views.healthz, name="healthz"),
    path("version", views.version, name="version"),
]

# In production the web server serves MEDIA_URL from MEDIA_ROOT; this helper
# only adds a route when DEBUG is on (local runserver).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
