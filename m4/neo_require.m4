# NEO_REQUIRE(VARIABLE-PREFIX, PKG-CONFIG-MODULES, DEBIAN-PACKAGE)
# ----------------------------------------------------------------
# Like PKG_CHECK_MODULES, but a missing library stops configure with a
# message naming the Debian package to install.
AC_DEFUN([NEO_REQUIRE],
  [PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found: install the Debian package $3 (apt-get install $3)])])])
