from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from aftersales.accounts.admin_site import admin_site_require_mfa
from aftersales.core.api import api
from aftersales.web.views import StaffLoginView

admin_site_require_mfa()

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", include("aftersales.accounts.urls")),
    path("account/", include("aftersales.accounts.account_urls")),
    # The customers' survey page (no sign-in).
    path("", include("aftersales.callbacks.portal_urls")),
    path("", include("aftersales.web.urls")),
]
