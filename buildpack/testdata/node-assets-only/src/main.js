document.querySelector("#app").textContent = "Hello Vite";
