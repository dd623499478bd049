from django.contrib import admin

from .models import Signature
from .models import Tick

admin.site.register(Signature)
admin.site.register(Tick)
