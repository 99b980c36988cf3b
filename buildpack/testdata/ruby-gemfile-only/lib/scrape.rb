require "nokogiri"
puts Nokogiri::HTML("<p>hi</p>").text
