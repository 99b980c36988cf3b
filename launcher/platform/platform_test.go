package platform

import "testing"

func TestDetect(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{nil, ""},
		{[]string{"PATH=/bin", "HOME=/root"}, ""},
		{[]string{"DYNO=web.1"}, "heroku"},
		{[]string{"RENDER=true", "PORT=10000"}, "render"},
		{[]string{"RAILWAY_ENVIRONMENT=production"}, "railway"},
		{[]string{"FLY_APP_NAME=app"}, "fly"},
		{[]string{"K_SERVICE=svc"}, "cloudrun"},
		{[]string{"KOYEB_APP_NAME=app"}, "koyeb"},
		{[]string{"DYNO="}, ""}, // set but empty counts as unset
	}
	for _, tt := range tests {
		got := Detect(tt.env)
		if got.Name != tt.want || got.IsPaaS() != (tt.want != "") {
			t.Errorf("Detect(%q) = %+v, want %q", tt.env, got, tt.want)
		}
	}
}
